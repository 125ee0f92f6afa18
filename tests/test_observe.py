"""Request ids: taken from X-Request-ID when sane, else made; sent back in the header and in
every error's extensions."""

from __future__ import annotations

import asyncio
import gc
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from rujuk.app import create_app
from rujuk.compat.uvicorn import DrainingHttpProtocol
from rujuk.observe import Exchange, observed
from tests.compat.test_uvicorn import app as no_content
from tests.compat.test_uvicorn import connection
from tests.conftest import app_settings
from tests.fixtures import CREATE_PROGRAM, DEFAULT_TIERS, REGISTER
from tests.graphql_client import ADMIN_TOKEN
from tests.servers import running_server
from tests.test_metrics import parse, value

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GENERATED = re.compile(r"[0-9a-f]{16}")


def error_ids(response: httpx.Response) -> list[str]:
    errors = response.json()["errors"]
    assert errors
    return [error["extensions"]["requestId"] for error in errors]


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ program(id: 1) { nope } }"},  # validation, two errors
        {"query": "{ program(id: "},  # syntax
        {"query": "{ apiTokens { id } }", "token": "rjk_not_a_token"},  # in execution
        {"query": "{ programs { id } }", "variables": {"x": "y" * 10}, "operationName": "Nope"},
    ],
)
async def test_every_error_carries_the_clients_request_id(
    http: httpx.AsyncClient, body: dict[str, object]
) -> None:
    token = body.pop("token", ADMIN_TOKEN)
    response = await http.post(
        "/graphql",
        json=body,
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-42.a:b_c"},
    )
    assert response.headers["x-request-id"] == "trace-42.a:b_c"
    assert set(error_ids(response)) == {"trace-42.a:b_c"}


async def test_errors_of_strawberrys_path_and_of_the_transport_carry_it_too(
    http: httpx.AsyncClient,
) -> None:
    headers = {**AUTH, "X-Request-ID": "req-1"}
    got = await http.get("/graphql", params={"query": "{ nope }"}, headers=headers)
    assert got.headers["x-request-id"] == "req-1"
    assert error_ids(got) == ["req-1"]
    malformed = await http.post(
        "/graphql",
        content=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert malformed.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert error_ids(malformed) == ["req-1"]
    mutation_over_get = await http.get(
        "/graphql",
        params={"query": "mutation { settleRewards(input: {}) { approvedCount } }"},
        headers=headers,
    )
    assert mutation_over_get.status_code == 405
    assert error_ids(mutation_over_get) == ["req-1"]
    unknown_hash = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    persisted = await http.post("/graphql", json={"extensions": unknown_hash}, headers=headers)
    assert persisted.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert error_ids(persisted) == ["req-1"]
    too_large = await http.post(
        "/graphql", content=b"x" * (1024 * 1024 + 1), headers={**headers, "X-Request-ID": "big"}
    )
    assert too_large.status_code == 413
    assert error_ids(too_large) == ["big"]
    assert too_large.headers["x-request-id"] == "big"


@pytest.mark.parametrize(
    "given", ["has space", "x" * 129, "quote\"'", "line\\nbreak", "émoji", "a@b.example", ""]
)
async def test_an_insane_request_id_is_replaced(http: httpx.AsyncClient, given: str) -> None:
    # Ids with anything to escape or of any length would let a client write into the logs.
    response = await http.post(
        "/graphql",
        json={"query": "{ nope }"},
        headers=[
            (b"authorization", AUTH["Authorization"].encode()),
            (b"x-request-id", given.encode()),
        ],
    )
    made = response.headers["x-request-id"]
    assert GENERATED.fullmatch(made)
    assert error_ids(response) == [made]


async def test_each_request_gets_its_own_id_everywhere(http: httpx.AsyncClient) -> None:
    seen = set()
    for path in ("/healthz", "/graphql", "/metrics"):
        response = await (
            http.post(path, json={"query": "{ __typename }"})
            if path == "/graphql"
            else http.get(path)
        )
        assert response.status_code == 200
        seen.add(response.headers["x-request-id"])
    assert len(seen) == 3
    assert all(GENERATED.fullmatch(made) for made in seen)


async def test_a_successful_answer_has_no_errors_key(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}, "extensions": {"cost": 0}}


SERVER_ADMIN = "observe-server-admin-token-0123456789"
NAME, EMAIL, PHONE = "Qwzx Rahasia", "qwzx.rahasia@example.co.id", "081377665544"
PROBE = "query Probe { programs { id } }"


async def test_two_workers_sum_their_metrics_and_log_json_lines_without_personal_data(
    database_url: str, tmp_path: Path
) -> None:
    auth = {"Authorization": f"Bearer {SERVER_ADMIN}"}
    settings = {"RUJUK_LOG_FORMAT": "json"}
    log = tmp_path / "serve.log"
    async with running_server(database_url, SERVER_ADMIN, tmp_path, 2, "INFO", settings) as base:
        # The second worker loads once the first has (the load lock).
        await until(lambda: len(loads(log)) == 2, 60)
        async with httpx.AsyncClient(base_url=base, timeout=10, headers=auth) as client:
            created = await client.post(
                "/graphql",
                json={
                    "query": CREATE_PROGRAM,
                    "variables": {"input": {"name": "Obs", "tiers": DEFAULT_TIERS}},
                },
            )
            program = created.json()["data"]["createProgram"]["program"]["id"]
            registered = await client.post(
                "/graphql",
                json={
                    "query": REGISTER,
                    "variables": {
                        "input": {
                            "programId": program,
                            "externalId": "secret-1",
                            "displayName": NAME,
                            "email": EMAIL,
                            "phone": PHONE,
                        }
                    },
                },
                headers={"X-Request-ID": "register-7"},
            )
            assert registered.json()["data"]["registerCustomer"]["userErrors"] == []
            # Personal data in a query string and in a header are not logged either.
            got = await client.get(
                "/graphql",
                params={"query": f"{{ programs {{ id }} }} # {EMAIL} {PHONE}"},
                headers={"X-Note": NAME},
            )
            assert got.status_code == 200

        # Each probe on a connection of its own, until both workers have answered some.
        sent = 0
        for _ in range(20):
            answers = await asyncio.gather(*(probe(base, auth) for _ in range(8)))
            assert all(status == 200 for status in answers)
            sent += len(answers)
            await asyncio.sleep(0.05)
            if len({line["pid"] for line in probes(log)}) == 2:
                break
        assert len({line["pid"] for line in probes(log)}) == 2
        assert len(probes(log)) == sent

        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            # Each scrape (answered by either worker) counts every worker's requests.
            for _ in range(6):
                samples = parse(
                    (await client.get("/metrics", headers={"Connection": "close"})).text
                )
                assert (
                    value(samples, "rujuk_graphql_requests_total", operation="Probe", outcome="ok")
                    == sent
                )
                assert (
                    value(
                        samples, "rujuk_graphql_request_duration_seconds_count", operation="Probe"
                    )
                    == sent
                )

            # Both workers apply the registration's event; the pools are sampled each second.
            async def settled() -> bool:
                samples = parse((await client.get("/metrics")).text)
                return (
                    value(samples, "rujuk_graph_events_applied_total", kind="customer_registered")
                    == 2
                    and value(samples, "rujuk_graph_version_lag", program=program) == 0
                    and value(samples, "rujuk_db_pool_size") >= 2
                )

            await until_async(settled, 10)

    # stderr holds log lines only; stdout (the same file here) the CLI's banner.
    output = log.read_text().splitlines()
    entries = [json.loads(line) for line in output if line.startswith("{")]
    assert all(line.startswith("rujuk: ") for line in output if not line.startswith("{"))
    requests = [e for e in entries if e["logger"] == "rujuk.access"]
    register_line = next(e for e in requests if e["requestId"] == "register-7")
    assert register_line["operation"] == "registerCustomer"
    assert register_line["outcome"] == "ok"
    assert register_line["status"] == 200
    assert register_line["method"] == "POST"
    assert register_line["path"] == "/graphql"
    assert 0 < register_line["durationMs"] < 10_000
    text = log.read_text()
    for secret in (SERVER_ADMIN, NAME, EMAIL, PHONE, "Qwzx", "rahasia", "77665544"):
        assert secret.lower() not in text.lower(), secret


async def probe(base: str, auth: dict[str, str]) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=auth) as client:
        response = await client.post("/graphql", json={"query": PROBE})
        return response.status_code


def lines_of(log: Path, logger: str) -> list[dict[str, Any]]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if f'"logger": "{logger}"' in line:
            found.append(json.loads(line))
    return found


def loads(log: Path) -> list[dict[str, Any]]:
    return [e for e in lines_of(log, "rujuk.graph.store") if e["message"].startswith("loaded")]


def probes(log: Path) -> list[dict[str, Any]]:
    return [e for e in lines_of(log, "rujuk.access") if e.get("operation") == "Probe"]


async def until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def until_async(condition: Callable[[], Awaitable[bool]], seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.2)


def test_subscription_errors_over_websocket_carry_the_request_id(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(app_settings(tmp_path), database_url)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": AUTH})
        assert ws.receive_json()["type"] == "connection_ack"
        query = "subscription($p: ID!) { referralCreated(programId: $p) { code } }"
        payload = {"query": query, "variables": {"p": "UHJvZ3JhbTo5OTk5"}}
        ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        answer = ws.receive_json()
        errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
        assert GENERATED.fullmatch(errors[0]["extensions"]["requestId"])


async def test_an_answered_request_leaves_nothing_for_the_collector() -> None:
    # uvicorn's cycle holds the scope and sends through its own bound method: an Exchange
    # kept in the scope past the answer would close a loop of ten objects per request, each
    # freed only by a collection (a young one every few hundred purchases, and those that
    # survive it freed by the full ones, whose pauses grew to 30 ms at 1M customers).
    async def observed_app(scope: Any, receive: Any, send: Any) -> None:
        await observed(scope, receive, send, no_content)

    protocol, transport = connection(DrainingHttpProtocol, observed_app)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for k in range(5):
            protocol.data_received(b"GET / HTTP/1.1\r\nHost: rujuk\r\n\r\n")
            for _ in range(100):
                if transport.written.count(b"HTTP/1.1 204 ") > k:
                    break
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, (Exchange, dict))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert transport.written.count(b"HTTP/1.1 204 ") == 5
    assert left == []
