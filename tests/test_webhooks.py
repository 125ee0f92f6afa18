"""Webhooks: endpoints over GraphQL, the outbox written with each change, signed delivery to
real receivers on loopback, retries, the delivery log, redelivery and the URL checks."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from rujuk.app import create_app
from rujuk.config import ConfigError, load_settings
from rujuk.db import webhooks as webhook_queries
from rujuk.db.pool import create_pool
from rujuk.services import webhook_dispatcher, webhook_events
from rujuk.services.webhook_dispatcher import PER_ENDPOINT, WebhookDispatcher
from rujuk.services.webhook_events import EVENT_TYPES, Outbox
from rujuk.services.webhook_urls import UrlRefused, refusal, resolve
from tests.conftest import app_settings
from tests.fixtures import chain, create_program, register, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import ERASE, REVIEW, SETTLE, paid, refund
from tests.servers import free_port
from tests.test_auth import api_token
from tests.webhook_receiver import Receiver, eventually, running_receiver

CREATE = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    webhookEndpoint { id programId url description eventTypes enabled disabledReason }
    secret
    userErrors { field code message }
  }
}"""
UPDATE = """
mutation($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) {
    webhookEndpoint { id url description eventTypes enabled disabledReason }
    secret
    userErrors { field code message }
  }
}"""
DELETE = """
mutation($id: ID!) {
  deleteWebhookEndpoint(input: {id: $id}) { deletedId userErrors { field code message } }
}"""
ROTATE = """
mutation($id: ID!) {
  rotateWebhookSecret(input: {id: $id}) { secret userErrors { field code message } }
}"""
TEST_EVENT = """
mutation($id: ID!) {
  sendTestWebhookEvent(input: {endpointId: $id}) {
    event { id type payload } userErrors { field code message }
  }
}"""
REDELIVER = """
mutation($event: ID!, $endpoint: ID) {
  redeliverWebhookEvent(input: {eventId: $event, endpointId: $endpoint}) {
    deliveries { id status attempts nextAttemptAt } userErrors { field code message }
  }
}"""
ENDPOINTS = """
query($p: ID!) { webhookEndpoints(programId: $p) { id url eventTypes enabled } }"""
LOG = """
query($id: ID!, $first: Int!, $after: String) {
  webhookEndpoint(id: $id) {
    enabled disabledReason failingSince
    deliveries(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node {
        id status attempts nextAttemptAt lastStatusCode lastError lastLatencyMs deliveredAt
        event { id type payload }
        attemptLog { attemptedAt statusCode latencyMs error }
      } }
    }
  }
}"""


class Clock:
    """The retry schedule's clock: real time, moved on by hand by whole days if need be."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    @property
    def at(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def __call__(self) -> datetime:
        return self.at

    def advance(self, dispatcher: WebhookDispatcher, by: timedelta) -> None:
        self.offset += by
        dispatcher.wake()


@pytest.fixture
async def hooks_app(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """The app allowing webhooks to loopback (RUJUK_WEBHOOKS_ALLOW_PRIVATE=1)."""
    settings = dataclasses.replace(app_settings(tmp_path), webhooks_allow_private=True)
    application = create_app(settings, database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def hooks(hooks_app: Any) -> AsyncIterator[GraphQLClient]:
    """An ADMIN GraphQL client of hooks_app."""
    transport = httpx.ASGITransport(app=hooks_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as client:
        yield GraphQLClient(client)


def dispatcher(app: Any) -> WebhookDispatcher:
    found: WebhookDispatcher = app.state.runtime.webhooks
    return found


async def create_endpoint(
    gql: GraphQLClient, program_id: str, url: str, types: list[str] | None = None, **extra: Any
) -> tuple[dict[str, Any], str]:
    data = await gql.data(
        CREATE,
        {
            "input": {
                "programId": program_id,
                "url": url,
                "eventTypes": list(EVENT_TYPES) if types is None else types,
                **extra,
            }
        },
    )
    payload = data["createWebhookEndpoint"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["webhookEndpoint"], payload["secret"]


async def log(gql: GraphQLClient, endpoint_id: str, first: int = 50) -> dict[str, Any]:
    data = await gql.data(LOG, {"id": endpoint_id, "first": first})
    found: dict[str, Any] = data["webhookEndpoint"]
    return found


async def send_test(gql: GraphQLClient, endpoint_id: str) -> dict[str, Any]:
    data = await gql.data(TEST_EVENT, {"id": endpoint_id})
    payload = data["sendTestWebhookEvent"]
    assert payload["userErrors"] == [], payload["userErrors"]
    event: dict[str, Any] = payload["event"]
    return event


async def test_every_change_is_sent_signed_with_the_api_ids(
    hooks: GraphQLClient, database_url: str
) -> None:
    program = await create_program(hooks, holdDays=0)
    pid = program["id"]
    async with running_receiver() as receiver:
        endpoint, secret = await create_endpoint(
            hooks, pid, receiver.url, description="shop backend"
        )
        assert secret.startswith("whsec_")
        assert endpoint["enabled"] is True
        assert endpoint["description"] == "shop backend"
        assert sorted(endpoint["eventTypes"]) == sorted(EVENT_TYPES)
        customers = [await register_ok(hooks, pid, "c0", email="c0@example.co.id")]
        links = []
        for i in (1, 2):
            code = customers[-1]["referralCodes"][0]["code"]
            joined = await register(hooks, pid, f"c{i}", code, email=f"c{i}@example.co.id")
            customers.append(joined["customer"])
            links.append(joined["referral"]["id"])
        rewards = await paid(hooks, pid, "c2", "o1", "10000")
        partial = await refund(hooks, pid, "o1", "10000")
        assert partial["userErrors"] == []
        second = await paid(hooks, pid, "c2", "o2", "5000")
        settled = await hooks.data(SETTLE, {"input": {"programId": pid, "asOf": None}})
        approved = settled["settleRewards"]["approvedCount"]
        reviewed = await hooks.data(
            REVIEW, {"input": {"referralId": links[1], "decision": "REJECT"}}
        )
        assert reviewed["reviewReferral"]["userErrors"] == []
        erased = await hooks.data(ERASE, {"input": {"customerId": customers[0]["id"]}})
        assert erased["eraseCustomer"]["userErrors"] == []
        # c1 and c2 joined with a code; o1's purchase and rewards; its refund took every reward
        # of o1 to zero; o2; settlement; the review; the erasure.
        expected = (
            ["referral.created"] * 2
            + ["purchase.recorded"]
            + ["reward.earned"] * len(rewards)
            + ["purchase.refunded"]
            + ["reward.reversed"] * len(rewards)
            + ["purchase.recorded"]
            + ["reward.earned"] * len(second)
            + ["reward.approved"] * approved
            + ["referral.reviewed", "customer.erased"]
        )
        await eventually(
            lambda: len(receiver.answered) >= len(expected),
            state=lambda: (sorted(receiver.types()), sorted(expected)),
        )
        bodies = [r.verified(secret) for r in receiver.answered]
    assert sorted(b["type"] for b in bodies) == sorted(expected)
    ids = {r.headers["webhook-id"] for r in receiver.answered}
    assert len(ids) == len(expected)  # one message id per event
    by_type: dict[str, list[dict[str, Any]]] = {}
    for body in bodies:
        by_type.setdefault(body["type"], []).append(body["data"])
    assert by_type["referral.reviewed"][0]["id"] == links[1]
    assert by_type["referral.reviewed"][0]["status"] == "REJECTED"
    assert {d["refereeId"] for d in by_type["referral.created"]} == {
        customers[1]["id"],
        customers[2]["id"],
    }
    assert all(d["programId"] == pid for ds in by_type.values() for d in ds)
    assert by_type["customer.erased"] == [{"id": customers[0]["id"], "programId": pid}]
    recorded = {d["orderId"]: d for d in by_type["purchase.recorded"]}
    assert recorded["o1"]["amount"] == "10000"
    assert recorded["o1"]["customerId"] == customers[2]["id"]
    assert by_type["purchase.refunded"][0]["refund"] == "10000"
    # A purchase's IDs are the API's: the node query finds each.
    node = await hooks.data(
        "query($id: ID!) { node(id: $id) { ... on Purchase { orderId } } }",
        {"id": recorded["o2"]["id"]},
    )
    assert node["node"] == {"orderId": "o2"}
    # No personal data: the names, e-mails and phones the program holds are nowhere.
    text = json.dumps(bodies)
    assert "Customer c" not in text
    assert "@" not in text


async def test_endpoints_are_listed_updated_disabled_and_deleted(
    hooks: GraphQLClient, database_url: str
) -> None:
    program = await create_program(hooks)
    pid = program["id"]
    async with running_receiver() as receiver:
        endpoint, _ = await create_endpoint(hooks, pid, receiver.url, ["purchase.recorded"])
        await chain(hooks, pid, 2)
        listed = await hooks.data(ENDPOINTS, {"p": pid})
        assert listed["webhookEndpoints"] == [
            {
                "id": endpoint["id"],
                "url": receiver.url,
                "eventTypes": ["purchase.recorded"],
                "enabled": True,
            }
        ]
        # Not subscribed to referral.created: nothing was written for the sign-up.
        conn = await asyncpg.connect(database_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM webhook_event") == 0
            disabled = (
                await hooks.data(UPDATE, {"input": {"id": endpoint["id"], "enabled": False}})
            )["updateWebhookEndpoint"]["webhookEndpoint"]
            assert (disabled["enabled"], disabled["disabledReason"]) == (
                False,
                "disabled by a user",
            )
            await paid(hooks, pid, "c1", "o1", "1000")
            # No enabled endpoint: the purchase wrote no event.
            assert await conn.fetchval("SELECT count(*) FROM webhook_event") == 0
            enabled = (
                await hooks.data(
                    UPDATE,
                    {
                        "input": {
                            "id": endpoint["id"],
                            "enabled": True,
                            "eventTypes": ["purchase.recorded", "reward.earned"],
                            "description": "renamed",
                        }
                    },
                )
            )["updateWebhookEndpoint"]["webhookEndpoint"]
            assert enabled["enabled"] is True
            assert enabled["disabledReason"] is None
            assert enabled["description"] == "renamed"
            earned = await paid(hooks, pid, "c1", "o2", "1000")
            expected = ["purchase.recorded"] + ["reward.earned"] * len(earned)
            await eventually(lambda: len(receiver.answered) == len(expected))
            assert sorted(receiver.types()) == expected
            deleted = await hooks.data(DELETE, {"id": endpoint["id"]})
            assert deleted["deleteWebhookEndpoint"] == {
                "deletedId": endpoint["id"],
                "userErrors": [],
            }
            assert (await hooks.data(ENDPOINTS, {"p": pid}))["webhookEndpoints"] == []
            await paid(hooks, pid, "c1", "o3", "1000")
            assert await conn.fetchval("SELECT count(*) FROM webhook_event") == len(expected)
        finally:
            await conn.close()
        again = await hooks.data(DELETE, {"id": endpoint["id"]})
        assert again["deleteWebhookEndpoint"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_failures_are_retried_with_backoff_and_logged(
    hooks_app: Any, hooks: GraphQLClient
) -> None:
    program = await create_program(hooks)
    clock = Clock()
    worker = dispatcher(hooks_app)
    worker.clock = clock
    async with running_receiver(Receiver(failures=2)) as receiver:
        endpoint, secret = await create_endpoint(hooks, program["id"], receiver.url)
        event = await send_test(hooks, endpoint["id"])
        assert json.loads(event["payload"])["type"] == "webhook.test"
        await eventually(lambda: len(receiver.received) == 1)
        first = await _settled_log(hooks, endpoint["id"], attempts=1)
        delivery = first["deliveries"]["edges"][0]["node"]
        assert delivery["status"] == "PENDING"
        assert (delivery["lastStatusCode"], delivery["lastError"]) == (500, "HTTP 500")
        # The first retry comes 2.5 to 5 s later (5 s with jitter), the second 10 to 20 s.
        wait = _time(delivery["nextAttemptAt"]) - clock.at
        assert timedelta(seconds=2.5) <= wait <= timedelta(seconds=5)
        clock.advance(worker, timedelta(seconds=2))
        await _still(lambda: len(receiver.received) == 1)
        clock.advance(worker, timedelta(seconds=3))
        await eventually(lambda: len(receiver.received) == 2)
        second = (await _settled_log(hooks, endpoint["id"], attempts=2))["deliveries"]
        wait = _time(second["edges"][0]["node"]["nextAttemptAt"]) - clock.at
        assert timedelta(seconds=10) <= wait <= timedelta(seconds=20)
        clock.advance(worker, timedelta(seconds=20))
        await eventually(lambda: len(receiver.answered) == 1)
        settled = await _settled_log(hooks, endpoint["id"], attempts=3)

        # The success ended the endpoint's streak of failures. The endpoint is read before
        # its deliveries (two statements): read again until the first is past the success.
        async def streak_ended() -> bool:
            settled.update(await log(hooks, endpoint["id"]))
            return settled["failingSince"] is None

        await eventually(streak_ended, state=lambda: settled["failingSince"])
        final = settled["deliveries"]
        node = final["edges"][0]["node"]
        assert node["status"] == "DELIVERED"
        assert node["lastStatusCode"] == 200
        assert node["lastError"] is None
        assert node["nextAttemptAt"] is None
        assert [a["statusCode"] for a in node["attemptLog"]] == [500, 500, 200]
        assert all(a["latencyMs"] >= 0 for a in node["attemptLog"])
        assert node["event"] == event
        # The same message each time: one webhook-id, each signature valid.
        assert {r.headers["webhook-id"] for r in receiver.received} == {event["id"]}
        assert receiver.answered[0].verified(secret)["data"] == {"endpointId": endpoint["id"]}


async def _settled_log(gql: GraphQLClient, endpoint_id: str, attempts: int) -> dict[str, Any]:
    """The endpoint's log once its newest delivery has recorded `attempts` attempts."""
    found: dict[str, Any] = {}

    async def recorded() -> bool:
        found.update(await log(gql, endpoint_id))
        edges = found["deliveries"]["edges"]
        if not edges or len(edges[0]["node"]["attemptLog"]) != attempts:
            return False
        # The delivery is read before its attempts: it may be from before the last one.
        node = edges[0]["node"]
        return bool(
            node["status"] != "PENDING"
            or _time(node["nextAttemptAt"]) > _time(node["attemptLog"][-1]["attemptedAt"])
        )

    await eventually(recorded, state=lambda: found)
    return found


async def _still(check: Any, seconds: float = 0.7) -> None:
    """check() stays true for a while (nothing more happens)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        assert check()
        await asyncio.sleep(0.05)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_failing_endpoint_gives_up_after_three_days_and_is_disabled_after_five(
    hooks_app: Any, hooks: GraphQLClient
) -> None:
    program = await create_program(hooks)
    clock = Clock()
    started = clock.at
    worker = dispatcher(hooks_app)
    worker.clock = clock
    async with running_receiver(Receiver(status=503)) as receiver:
        endpoint, _ = await create_endpoint(hooks, program["id"], receiver.url)
        await send_test(hooks, endpoint["id"])
        attempts = 1
        while True:
            node = (await _settled_log(hooks, endpoint["id"], attempts))["deliveries"]["edges"][0][
                "node"
            ]
            if node["status"] == "FAILED":
                break
            due = _time(node["nextAttemptAt"])
            # Exponential, with a cap: never more than 6 hours between two attempts.
            gap = due - _time(node["attemptLog"][-1]["attemptedAt"])
            assert timedelta(0) < gap <= timedelta(hours=6)
            clock.advance(worker, max(due - clock.at, timedelta(0)))
            attempts += 1
        # Retried for 3 days, then given up; the endpoint is still on after 3 days.
        assert clock.at - started >= timedelta(days=3)
        assert 10 <= attempts <= 40
        assert len(receiver.received) == attempts
        found = await log(hooks, endpoint["id"])
        assert found["enabled"] is True
        assert abs(_time(found["failingSince"]) - started) < timedelta(minutes=1)
        # Five days after the first failure, the next failure disables the endpoint.
        clock.offset += started + timedelta(days=5, minutes=1) - clock.at
        await send_test(hooks, endpoint["id"])
        await eventually(lambda: len(receiver.received) == attempts + 1)
        await eventually(_disabled(hooks, endpoint["id"]))
        found = await log(hooks, endpoint["id"])
        assert found["disabledReason"].startswith("every delivery failed since ")
        assert found["disabledReason"].endswith("last error: HTTP 503")
        # Disabled: nothing is attempted, even when due.
        await send_test(hooks, endpoint["id"])
        clock.advance(worker, timedelta(days=1))
        await _still(lambda: len(receiver.received) == attempts + 1)
        # Enabled again: what is due goes out.
        receiver.status = 200
        updated = await hooks.data(UPDATE, {"input": {"id": endpoint["id"], "enabled": True}})
        assert updated["updateWebhookEndpoint"]["webhookEndpoint"]["disabledReason"] is None
        worker.wake()
        await eventually(lambda: len(receiver.answered) >= 1)


def _disabled(gql: GraphQLClient, endpoint_id: str) -> Any:
    async def check() -> bool:
        return (await log(gql, endpoint_id))["enabled"] is False

    return check


async def test_a_slow_receiver_gets_attempts_in_parallel_and_times_out(
    hooks_app: Any, hooks: GraphQLClient
) -> None:
    program = await create_program(hooks)
    worker = dispatcher(hooks_app)
    worker.timeout = 1.5
    async with (
        running_receiver(Receiver(delay=0.8)) as slow,
        running_receiver() as fast,
    ):
        slow_endpoint, _ = await create_endpoint(hooks, program["id"], slow.url)
        fast_endpoint, _ = await create_endpoint(hooks, program["id"], fast.url)
        started = asyncio.get_running_loop().time()
        for _ in range(12):
            await send_test(hooks, slow_endpoint["id"])
        await send_test(hooks, fast_endpoint["id"])
        # The fast endpoint does not wait behind the slow one's queue.
        await eventually(lambda: len(fast.answered) == 1, within=0.7)
        await eventually(lambda: len(slow.answered) == 12)
        elapsed = asyncio.get_running_loop().time() - started
        # Twelve 0.8 s answers, eight at a time: two rounds, not twelve.
        assert slow.max_concurrent == PER_ENDPOINT
        assert elapsed < 12 * 0.8 / 2
        # An answer slower than the timeout is a failure to retry.
        slow.delay = 3.0
        await send_test(hooks, slow_endpoint["id"])
        logged = await _settled_log(hooks, slow_endpoint["id"], 1)
        node = logged["deliveries"]["edges"][0]["node"]
        assert node["status"] == "PENDING"
        assert node["lastError"] == "timed out after 1.5 s"
        assert node["lastStatusCode"] is None
        assert 1400 <= node["lastLatencyMs"] < 3000


async def test_a_claim_that_waited_too_long_for_its_endpoint_is_given_back(
    hooks_app: Any, hooks: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker queues the deliveries it claims; one that waited for a slow endpoint until
    its attempt could outlast its lease is given back (attempts as before) and claimed
    again, not attempted late nor left until its lease passes."""
    program = await create_program(hooks)
    monkeypatch.setattr(webhook_dispatcher, "MAX_QUEUED_SECONDS", 0.3)
    released: list[webhook_queries.Claim] = []
    release = webhook_queries.release

    async def counted(conn: Any, claims: list[webhook_queries.Claim]) -> None:
        released.extend(claims)
        await release(conn, claims)

    monkeypatch.setattr(webhook_queries, "release", counted)
    async with running_receiver(Receiver(delay=0.8)) as slow:
        endpoint, _ = await create_endpoint(hooks, program["id"], slow.url)
        for _ in range(PER_ENDPOINT + 2):
            await send_test(hooks, endpoint["id"])
        # Eight at once; the two that waited behind them are given back, then sent.
        await eventually(lambda: len(slow.answered) == PER_ENDPOINT + 2)
        assert len(released) == 2
        found: list[tuple[str, int, int]] = []

        async def each_delivered_once() -> bool:
            edges = (await log(hooks, endpoint["id"]))["deliveries"]["edges"]
            found[:] = [
                (e["node"]["status"], e["node"]["attempts"], len(e["node"]["attemptLog"]))
                for e in edges
            ]
            return found == [("DELIVERED", 1, 1)] * (PER_ENDPOINT + 2)

        await eventually(each_delivered_once, state=lambda: found)


async def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    hooks_app: Any, hooks: GraphQLClient
) -> None:
    program = await create_program(hooks)
    clock = Clock()
    worker = dispatcher(hooks_app)
    worker.clock = clock
    async with running_receiver() as receiver:
        endpoint, old = await create_endpoint(hooks, program["id"], receiver.url)
        rotated = await hooks.data(ROTATE, {"id": endpoint["id"]})
        new = rotated["rotateWebhookSecret"]["secret"]
        assert new.startswith("whsec_")
        assert new != old
        await send_test(hooks, endpoint["id"])
        await eventually(lambda: len(receiver.answered) == 1)
        both = receiver.answered[0]
        assert len(both.headers["webhook-signature"].split(" ")) == 2
        assert both.verified(old) == both.verified(new)
        # Recorded before the clock jumps a day (past the claim's lease: sent again if not).
        await _settled_log(hooks, endpoint["id"], 1)
        clock.advance(worker, timedelta(hours=24, minutes=1))
        await send_test(hooks, endpoint["id"])
        await eventually(lambda: len(receiver.answered) == 2)
        only_new = receiver.answered[1]
        assert len(only_new.headers["webhook-signature"].split(" ")) == 1
        assert only_new.verified(new)["type"] == "webhook.test"
        with pytest.raises(WebhookVerificationError):
            only_new.verified(old)


async def test_the_delivery_log_pages_and_an_event_is_redelivered(hooks: GraphQLClient) -> None:
    program = await create_program(hooks)
    async with running_receiver() as receiver:
        endpoint, secret = await create_endpoint(hooks, program["id"], receiver.url)
        events = [await send_test(hooks, endpoint["id"]) for _ in range(5)]
        await eventually(lambda: len(receiver.answered) == 5)
        seen: list[str] = []
        after = None
        while True:
            data = await hooks.data(LOG, {"id": endpoint["id"], "first": 2, "after": after})
            deliveries = data["webhookEndpoint"]["deliveries"]
            assert deliveries["totalCount"] == 5
            seen.extend(e["node"]["event"]["id"] for e in deliveries["edges"])
            if not deliveries["pageInfo"]["hasNextPage"]:
                break
            after = deliveries["pageInfo"]["endCursor"]
        assert seen == [e["id"] for e in reversed(events)]  # newest first
        bad = await hooks.post(LOG, {"id": endpoint["id"], "first": 2, "after": "nonsense"})
        assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
        again = await hooks.data(REDELIVER, {"event": events[0]["id"], "endpoint": None})
        payload = again["redeliverWebhookEvent"]
        assert payload["userErrors"] == []
        assert [d["status"] for d in payload["deliveries"]] == ["PENDING"]
        await eventually(lambda: len(receiver.answered) == 6)
        assert receiver.answered[5].headers["webhook-id"] == events[0]["id"]
        assert receiver.answered[5].verified(secret)["data"]["endpointId"] == endpoint["id"]
        unknown = await hooks.data(REDELIVER, {"event": endpoint["id"], "endpoint": None})
        assert unknown["redeliverWebhookEvent"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_a_success_recorded_after_a_redelivery_does_not_cancel_it(
    hooks: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Successes are recorded in batches, a little after the receiver answered. A
    redelivery asked in between must still be sent: the late success of the earlier
    attempt records nothing (before, it marked the redelivered row DELIVERED)."""
    program = await create_program(hooks)
    redelivered, recorded = asyncio.Event(), asyncio.Event()
    claim, record_delivered = webhook_queries.claim, webhook_queries.record_delivered

    async def claim_after_the_late_record(*args: Any, **kwargs: Any) -> Any:
        if redelivered.is_set() and not recorded.is_set():
            await recorded.wait()
        return await claim(*args, **kwargs)

    async def record_late(conn: Any, delivered: Any) -> int:
        if recorded.is_set():
            return await record_delivered(conn, delivered)
        await redelivered.wait()
        try:
            return await record_delivered(conn, delivered)
        finally:
            recorded.set()

    monkeypatch.setattr(webhook_queries, "claim", claim_after_the_late_record)
    monkeypatch.setattr(webhook_queries, "record_delivered", record_late)
    async with running_receiver() as receiver:
        endpoint, _ = await create_endpoint(hooks, program["id"], receiver.url)
        event = await send_test(hooks, endpoint["id"])
        await eventually(lambda: len(receiver.answered) == 1)
        again = await hooks.data(REDELIVER, {"event": event["id"], "endpoint": None})
        assert again["redeliverWebhookEvent"]["userErrors"] == []
        redelivered.set()
        await eventually(lambda: len(receiver.answered) == 2)
        assert receiver.answered[1].headers["webhook-id"] == event["id"]


async def test_a_refused_change_writes_no_event(hooks: GraphQLClient, database_url: str) -> None:
    program = await create_program(hooks)
    pid = program["id"]
    async with running_receiver() as receiver:
        await create_endpoint(hooks, pid, receiver.url)
        await chain(hooks, pid, 2)
        await paid(hooks, pid, "c1", "o1", "1000")
        conn = await asyncpg.connect(database_url)
        try:
            before = await conn.fetchval("SELECT count(*) FROM webhook_event")
            too_much = await refund(hooks, pid, "o1", "5000")
            assert too_much["userErrors"][0]["code"] == "REFUND_EXCEEDS_PURCHASE"
            replay = await paid(hooks, pid, "c1", "o1", "1000")  # the same order again
            assert replay
            assert await conn.fetchval("SELECT count(*) FROM webhook_event") == before
        finally:
            await conn.close()


async def test_only_admin_and_the_programs_partner_manage_endpoints(
    hooks: GraphQLClient,
) -> None:
    mine = await create_program(hooks)
    other = await create_program(hooks, name="Other")
    partner = hooks.as_token(await api_token(hooks, "PARTNER", mine["id"]))
    stranger = hooks.as_token(await api_token(hooks, "PARTNER", other["id"]))
    endpoint, _ = await create_endpoint(partner, mine["id"], "http://127.0.0.1:9/hook")
    listed = await partner.data(ENDPOINTS, {"p": mine["id"]})
    assert [e["id"] for e in listed["webhookEndpoints"]] == [endpoint["id"]]
    variables = {
        "input": {
            "programId": mine["id"],
            "url": "http://127.0.0.1:9/x",
            "eventTypes": ["reward.earned"],
        }
    }
    assert await stranger.error_code(CREATE, variables) == "FORBIDDEN"
    assert await stranger.error_code(ENDPOINTS, {"p": mine["id"]}) == "FORBIDDEN"
    assert await stranger.error_code(ROTATE, {"id": endpoint["id"]}) == "FORBIDDEN"
    assert await stranger.error_code(TEST_EVENT, {"id": endpoint["id"]}) == "FORBIDDEN"
    assert await stranger.error_code(DELETE, {"id": endpoint["id"]}) == "FORBIDDEN"
    assert await stranger.error_code(LOG, {"id": endpoint["id"], "first": 1}) == "FORBIDDEN"
    assert await hooks.as_token(None).error_code(CREATE, variables) == "UNAUTHENTICATED"
    bad_types = {"input": {**variables["input"], "eventTypes": ["reward.paid"]}}
    refused = (await partner.data(CREATE, bad_types))["createWebhookEndpoint"]
    assert refused["userErrors"][0]["field"] == ["input", "eventTypes"]
    assert "reward.paid" in refused["userErrors"][0]["message"]
    deleted = await partner.data(DELETE, {"id": endpoint["id"]})
    assert deleted["deleteWebhookEndpoint"]["userErrors"] == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/hook", "https://"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://[fd00:ec2::254]/hook", "private"),
        ("https://100.100.100.200/hook", "not a public"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
        ("ftp://example.com/hook", "https://"),
    ],
)
async def test_endpoint_urls_must_be_public_https(
    gql: GraphQLClient, url: str, reason: str
) -> None:
    program = await create_program(gql)
    variables = {"input": {"programId": program["id"], "url": url, "eventTypes": ["reward.earned"]}}
    payload = (await gql.data(CREATE, variables))["createWebhookEndpoint"]
    assert payload["webhookEndpoint"] is None
    assert payload["secret"] is None
    [error] = payload["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_URL", ["input", "url"])
    assert reason in error["message"]


def test_only_public_unicast_addresses_receive_webhooks() -> None:
    assert refusal("93.184.216.34") is None
    assert refusal("2606:2800:220:1:248:1893:25c8:1946") is None
    for address in (
        "127.0.0.2",
        "0.0.0.0",
        "172.16.0.1",
        "169.254.169.254",
        "fe80::1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
        "100.64.0.1",
        "::",
    ):
        assert refusal(address) is not None, address


async def test_addresses_are_checked_again_at_delivery(
    hooks_app: Any, hooks: GraphQLClient
) -> None:
    program = await create_program(hooks)
    worker = dispatcher(hooks_app)
    async with running_receiver() as receiver:
        endpoint, _ = await create_endpoint(hooks, program["id"], receiver.url)
        # The setting turned off (as if the name now resolved to the loopback).
        worker.allow_private = False
        await send_test(hooks, endpoint["id"])
        logged = await _settled_log(hooks, endpoint["id"], 1)
        node = logged["deliveries"]["edges"][0]["node"]
        assert node["lastError"].startswith("refused: the URL must start with https://")
        assert receiver.received == []


async def test_the_delivery_log_is_costed_by_its_page_size(hooks: GraphQLClient) -> None:
    program = await create_program(hooks)
    endpoint, _ = await create_endpoint(hooks, program["id"], "http://127.0.0.1:9/hook")
    costs = []
    for first in (10, 20):
        body = await hooks.post(LOG, {"id": endpoint["id"], "first": first})
        assert "errors" not in body, body
        costs.append(body["extensions"]["cost"])
    # deliveries costs first x (1 + pageInfo 1 + edges (1 + node (1 + event 1 + attemptLog 1))).
    assert costs == [1 + 10 * 6, 1 + 20 * 6]


def test_the_private_address_setting_is_0_or_1() -> None:
    assert load_settings({"RUJUK_WEBHOOKS_ALLOW_PRIVATE": "1"}).webhooks_allow_private
    assert not load_settings({}).webhooks_allow_private
    with pytest.raises(ConfigError, match="RUJUK_WEBHOOKS_ALLOW_PRIVATE must be 0 or 1"):
        load_settings({"RUJUK_WEBHOOKS_ALLOW_PRIVATE": "yes"})


async def test_an_attempt_connects_to_the_address_it_checked() -> None:
    plain = await resolve("http://localhost:8080/hook?x=1", allow_private=True)
    assert plain.url in ("http://127.0.0.1:8080/hook?x=1", "http://[::1]:8080/hook?x=1")
    assert (plain.host_header, plain.server_name) == ("localhost:8080", None)
    secure = await resolve("https://localhost/hook", allow_private=True)
    assert secure.url in ("https://127.0.0.1/hook", "https://[::1]/hook")
    # The name still names the TLS server (certificate check) and the Host header.
    assert (secure.host_header, secure.server_name) == ("localhost", "localhost")
    with pytest.raises(UrlRefused, match="loopback"):
        await resolve("https://localhost/hook", allow_private=False)


async def test_a_dispatcher_starts_while_its_listener_cannot_connect(database_url: str) -> None:
    """A worker starting during a database outage (the second of --workers 2 finishing its
    load as the database froze) must not fail its start-up on the webhook listener: that
    failure stopped the whole server."""
    unreachable = f"postgresql://rujuk@127.0.0.1:{free_port()}/rujuk"
    pool = await create_pool(database_url, connect_timeout=1)
    dispatcher = WebhookDispatcher(pool, unreachable, Outbox(pool), allow_private=True)
    try:
        await asyncio.wait_for(dispatcher.start(), timeout=5)
        assert not dispatcher.listening
    finally:
        await dispatcher.close()
        await pool.close()


async def test_a_program_without_endpoints_makes_no_event_of_a_purchase(
    hooks: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its purchases' events are never made, let alone written (making them cost 3 % of a
    purchase's CPU for nothing)."""
    made: list[str] = []
    original = webhook_events.purchase_event

    def counted(event_type: str, purchase: Any) -> Any:
        made.append(event_type)
        return original(event_type, purchase)

    monkeypatch.setattr(webhook_events, "purchase_event", counted)
    program = await create_program(hooks)
    await chain(hooks, program["id"], 2)
    await paid(hooks, program["id"], "c1", "o1", "100000")
    assert made == []
    await create_endpoint(hooks, program["id"], f"http://127.0.0.1:{free_port()}/h")
    await paid(hooks, program["id"], "c1", "o2", "100000")
    assert made == ["purchase.recorded"]
