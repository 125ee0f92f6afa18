"""GET /metrics: requests, latencies, errors, rate limits, events, pool, lag, subscriptions."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from rujuk.app import create_app
from rujuk.db.pool import connect
from rujuk.ids import local_id
from tests.conftest import app_settings
from tests.fixtures import create_program, register_ok
from tests.graphql_client import ADMIN_TOKEN, GraphQLClient

BUY = """mutation Buy($p: ID!, $o: String!) { recordPurchase(input: {programId: $p,
  customerExternalId: "buyer", orderId: $o, amount: "100000"}) { userErrors { code } } }"""
METRICS_TOKEN = "metrics-token-0123456789"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_requests_latency_errors_and_events_are_counted(
    gql: GraphQLClient, http: httpx.AsyncClient
) -> None:
    program = await create_program(gql)
    p = program["id"]
    await register_ok(gql, p, "buyer")
    before = await scrape(http)
    for order in ("o-1", "o-2", "o-3"):
        bought = await gql.data(BUY, {"p": p, "o": order})
        assert bought["recordPurchase"]["userErrors"] == []
    assert await gql.error_code("{ program(id: $nope) { id } }") == "GRAPHQL_VALIDATION_FAILED"
    assert await gql.error_code("query Broken { program(") == "GRAPHQL_PARSE_FAILED"
    anonymous = await gql.as_token(None).post(
        'mutation { recordPurchase(input: {programId: "x", customerExternalId: "buyer", '
        'orderId: "o-9", amount: "1"}) { userErrors { code } } }'
    )
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    after = await scrape(http)

    requests = "rujuk_graphql_requests_total"
    assert delta(before, after, requests, operation="Buy", outcome="ok") == 3
    assert delta(before, after, requests, operation="program", outcome="client_error") == 1
    # A document that does not parse has no operation.
    assert delta(before, after, requests, operation="-", outcome="client_error") == 1
    assert delta(before, after, requests, operation="recordPurchase", outcome="client_error") == 1
    latency = "rujuk_graphql_request_duration_seconds"
    assert delta(before, after, f"{latency}_count", operation="Buy") == 3
    assert delta(before, after, f"{latency}_bucket", operation="Buy", le="+Inf") == 3
    assert 0 < delta(before, after, f"{latency}_sum", operation="Buy") < 30
    errors = "rujuk_graphql_errors_total"
    assert delta(before, after, errors, code="GRAPHQL_VALIDATION_FAILED") == 1
    assert delta(before, after, errors, code="GRAPHQL_PARSE_FAILED") == 1
    assert delta(before, after, errors, code="UNAUTHENTICATED") == 1
    applied = "rujuk_graph_events_applied_total"
    assert delta(before, after, applied, kind="purchase_recorded") == 3
    assert value(after, "rujuk_graph_version", program=p) >= 4
    assert value(after, "rujuk_graph_version_lag", program=p) == 0
    assert value(after, "rujuk_db_pool_size") >= 1
    assert ("rujuk_db_pool_waiting", ()) in after
    assert ("rujuk_db_pool_in_use", ()) in after
    # The scrapes themselves are not GraphQL requests.
    assert not any(name == requests and "/metrics" in str(labels) for name, labels in after)


async def test_lag_shows_events_committed_that_this_process_has_not_applied(
    gql: GraphQLClient, http: httpx.AsyncClient, database_url: str
) -> None:
    program = await create_program(gql)
    p = program["id"]
    buyer = await register_ok(gql, p, "buyer")
    version = value(await scrape(http), "rujuk_graph_version", program=p)
    # Another worker's purchase whose notification has not arrived yet.
    conn = await connect(database_url)
    try:
        await conn.execute(
            """WITH bumped AS (UPDATE program SET graph_version = graph_version + 1
                               RETURNING id, graph_version)
               INSERT INTO graph_event (program_id, version, kind, payload)
               SELECT id, graph_version, 'purchase_recorded', $1::jsonb FROM bumped""",
            {"customer_id": local_id(buyer["id"], "Customer"), "delta": "1", "purchase_id": 0},
        )
    finally:
        await conn.close()
    samples = await scrape(http)
    assert value(samples, "rujuk_graph_version_lag", program=p) == 1
    assert value(samples, "rujuk_graph_version", program=p) == version


async def test_pool_waiting_counts_requests_queued_for_a_connection(
    gql: GraphQLClient, http: httpx.AsyncClient, app: Any
) -> None:
    program = await create_program(gql)
    pool = app.state.runtime.pool
    release, all_held = asyncio.Event(), asyncio.Event()
    holding: list[None] = []

    async def hold() -> None:
        async with pool.acquire():
            holding.append(None)
            if len(holding) == pool.get_max_size():
                all_held.set()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(pool.get_max_size())]
    await asyncio.wait_for(all_held.wait(), 10)
    try:
        stats = asyncio.create_task(
            gql.post(
                "query($p: ID!) { program(id: $p) { stats { customers } } }", {"p": program["id"]}
            )
        )
        await asyncio.sleep(0.2)
        samples = await scrape(http)
        assert value(samples, "rujuk_db_pool_in_use") == pool.get_max_size()
        assert value(samples, "rujuk_db_pool_waiting") >= 1
    finally:
        release.set()
        await asyncio.gather(*holders)
    assert "errors" not in await stats
    assert value(await scrape(http), "rujuk_db_pool_waiting") == 0


@pytest.fixture
async def limited(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a rate of 10 cost a minute and a metrics token."""
    settings = dataclasses.replace(
        app_settings(tmp_path), rate_limit_cost_per_minute=10, metrics_token=METRICS_TOKEN
    )
    application = create_app(settings, database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as client:
            yield client


async def test_rate_limited_requests_are_counted(limited: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    before = parse((await limited.get("/metrics", headers=auth)).text)
    gql = GraphQLClient(limited)
    # Costs 6 of the bucket's 10: the first passes, the next ones wait for the refill.
    costly = "{ " + " ".join(f"a{i}: programs {{ id }}" for i in range(6)) + " }"
    codes = []
    for _ in range(3):
        body = await gql.post(costly)
        codes += [e["extensions"]["code"] for e in body.get("errors", [])]
    after = parse((await limited.get("/metrics", headers=auth)).text)
    refused = codes.count("RATE_LIMITED")
    assert refused >= 2, codes
    assert delta(before, after, "rujuk_rate_limited_requests_total") == refused
    assert delta(before, after, "rujuk_graphql_errors_total", code="RATE_LIMITED") == refused


async def test_metrics_need_the_token_when_one_is_set(limited: httpx.AsyncClient) -> None:
    # This client is not on loopback: the token is what lets it in.
    assert (await limited.get("/metrics")).status_code == 401
    wrong = {"Authorization": "Bearer not-the-metrics-token"}
    assert (await limited.get("/metrics", headers=wrong)).status_code == 401
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert (await limited.get("/metrics", headers=admin)).status_code == 401
    good = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    answered = await limited.get("/metrics", headers=good)
    assert answered.status_code == 200
    assert "rujuk_graphql_requests_total" in answered.text


async def test_without_a_token_metrics_are_for_loopback_clients_only(app: Any) -> None:
    for host, status in (("203.0.113.7", 403), ("10.0.0.8", 403), ("::1", 200), ("127.0.0.1", 200)):
        transport = httpx.ASGITransport(app=app, client=(host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as client:
            response = await client.get("/metrics")
            assert response.status_code == status, host
            if status == 403:
                assert "rujuk_" not in response.text


def subscriptions_become(client: TestClient, count: float) -> None:
    """Wait until /metrics counts that many subscriptions (they start and end asynchronously)."""
    deadline = time.monotonic() + 5
    while (seen := value(parse(client.get("/metrics").text), "rujuk_subscriptions")) != count:
        assert time.monotonic() < deadline, (seen, count)
        time.sleep(0.02)


def test_subscriptions_are_counted(database_url: str, tmp_path: Path) -> None:
    app = create_app(app_settings(tmp_path), database_url)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    created_program = (
        'mutation { createProgram(input: {name: "Live", tiers: [{name: "B", levelRates: ["0.1"]}]})'
        " { program { id } } }"
    )
    subscription = "subscription($p: ID!) { referralCreated(programId: $p) { code } }"
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        created = client.post("/graphql", json={"query": created_program}, headers=auth).json()
        program_id = created["data"]["createProgram"]["program"]["id"]
        base = value(parse(client.get("/metrics").text), "rujuk_subscriptions")
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": auth})
            assert ws.receive_json()["type"] == "connection_ack"
            for number in ("1", "2"):
                payload = {"query": subscription, "variables": {"p": program_id}}
                ws.send_json({"id": number, "type": "subscribe", "payload": payload})
            subscriptions_become(client, base + 2)
            ws.send_json({"id": "1", "type": "complete"})
            subscriptions_become(client, base + 1)
        subscriptions_become(client, base)


async def test_garbage_collections_are_timed_by_generation(http: httpx.AsyncClient) -> None:
    before = await scrape(http)
    gc.collect()  # a full collection: generation 2
    gc.collect(0)
    after = await scrape(http)
    for generation in ("0", "2"):
        assert delta(before, after, "rujuk_gc_pause_seconds_count", generation=generation) >= 1
        assert delta(before, after, "rujuk_gc_pause_seconds_sum", generation=generation) > 0


# With several workers, prometheus_client keeps every value in a file under one lock per
# process; a collection (here one at each allocation) starts while the lock is held.
COLLECTING_WHILE_METRICS_LOCK = """
import gc
from prometheus_client import values
from rujuk import metrics
assert values.ValueClass.__name__ == "MultiProcessValue" or values.ValueClass._multiprocess
undo = metrics.observe_collections()
gc.set_threshold(1, 1, 1)
for program in range(500):
    metrics.graph_version(program, 1)
gc.set_threshold(700, 10, 10)
metrics.record_collections()
undo()
print(sum(s.value for m in metrics.GC_PAUSES.collect() for s in m.samples
          if s.name.endswith("_count")))
"""


def test_a_collection_while_a_metric_is_written_does_not_deadlock(tmp_path: Path) -> None:
    """The collector's callback used to observe a histogram: with --workers N, a collection
    that started inside prometheus_client's lock (a new label's first value) waited for
    that lock forever, and the worker stopped answering (CI: a request timed out after 30 s)."""
    done = subprocess.run(
        [sys.executable, "-c", COLLECTING_WHILE_METRICS_LOCK],
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=30,  # under a second when it works; before the fix it never ended
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) > 100  # collections were timed, and recorded afterwards
