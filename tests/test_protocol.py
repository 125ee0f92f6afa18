"""GraphQL over HTTP (content negotiation, status codes, methods), Apollo's automatic
persisted queries, and the transports' refusals: in process, then with real node clients
(graphql-http's audit, @apollo/client's persisted-query link) against `rujuk serve`."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from rujuk.app import create_app, response_media_type
from rujuk.db.persisted_queries import add_documents
from rujuk.db.pool import connect
from rujuk.persisted_queries import DocumentCache
from tests.conftest import LiveServer, app_settings
from tests.graphql_client import ADMIN_TOKEN
from tests.servers import rujuk_command, running_server, server_environment

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
GRAPHQL_RESPONSE = "application/graphql-response+json"
# What Apollo Client and graphql-http send: the new type first, JSON for older servers.
MODERN = {**AUTH, "Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}
LEGACY = {**AUTH, "Accept": "application/json"}
PROGRAMS = "{ programs { name } }"
SUBSCRIPTION = "subscription($p: ID!) { rewardEarned(programId: $p) { amount } }"
NODE_DIR = Path(__file__).parent / "node"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(text)}}


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


# Content negotiation and status codes.


async def test_a_client_that_accepts_graphql_response_json_gets_it(http: httpx.AsyncClient) -> None:
    answer = await http.post("/graphql", json={"query": PROGRAMS}, headers=MODERN)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert answer.json()["data"] == {"programs": []}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ programs { name ", "GRAPHQL_PARSE_FAILED"),
        ("{ programs { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int!) { programs { name } }", "GRAPHQL_VALIDATION_FAILED"),
    ],
    ids=["parse", "validation", "variable coercion"],
)
async def test_a_request_error_is_400_without_data_for_graphql_response_json(
    http: httpx.AsyncClient, query: str, code: str
) -> None:
    modern = await http.post("/graphql", json={"query": query}, headers=MODERN)
    assert modern.status_code == 400, modern.text
    assert modern.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = modern.json()
    assert "data" not in body
    assert codes(body)[0] in (code, "BAD_USER_INPUT")
    # A legacy client gets what it always got: 200, application/json, data null.
    legacy = await http.post("/graphql", json={"query": query}, headers=LEGACY)
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    assert legacy.json()["data"] is None
    assert codes(legacy.json()) == codes(body)


async def test_a_field_error_stays_200_with_its_data_entry(http: httpx.AsyncClient) -> None:
    anonymous = {"Accept": MODERN["Accept"]}
    answer = await http.post("/graphql", json={"query": PROGRAMS}, headers=anonymous)
    body = answer.json()
    assert answer.status_code == 200, body
    assert "data" in body
    assert body["errors"][0]["path"] == ["programs"]
    assert codes(body) == ["UNAUTHENTICATED"]


async def test_a_mutation_over_get_is_405_with_an_allow_header(http: httpx.AsyncClient) -> None:
    mutation = 'mutation { revokeApiToken(input: {id: "QXBpVG9rZW46MQ=="}) { apiToken { id } } }'
    answer = await http.get("/graphql", params={"query": mutation}, headers=MODERN)
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == "POST"
    assert codes(answer.json()) == ["METHOD_NOT_ALLOWED"]
    query = await http.get("/graphql", params={"query": PROGRAMS}, headers=MODERN)
    assert query.status_code == 200
    assert query.headers["content-type"].startswith(GRAPHQL_RESPONSE)


# The transports' refusals.


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_over_http_gets_a_code(
    http: httpx.AsyncClient, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    request: dict[str, Any] = {"query": SUBSCRIPTION, "variables": {"p": "UHJvZ3JhbTox"}}
    if method == "POST":
        answer = await http.post("/graphql", json=request, headers=LEGACY)
    else:
        request["variables"] = json.dumps(request["variables"])
        answer = await http.get("/graphql", params=request, headers=LEGACY)
    body = answer.json()
    assert codes(body) == ["OPERATION_NOT_SUPPORTED"], body
    assert "WebSocket" in body["errors"][0]["message"]
    assert "Traceback" not in caplog.text


def test_a_query_over_legacy_graphql_ws_gets_a_code(database_url: str, tmp_path: Path) -> None:
    app = create_app(app_settings(tmp_path), database_url)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": AUTH})
        assert ws.receive_json()["type"] == "connection_ack"
        for operation in (
            PROGRAMS,
            'mutation { revokeApiToken(input: {id: "QXBpVG9rZW46MQ=="}) { apiToken { id } } }',
        ):
            ws.send_json({"id": "1", "type": "start", "payload": {"query": operation}})
            message = ws.receive_json()
            while message["type"] == "ka":
                message = ws.receive_json()
            assert message["type"] in ("error", "data"), message
            payload = message["payload"]
            errors = payload.get("errors", [payload])
            assert [e["extensions"]["code"] for e in errors] == ["OPERATION_NOT_SUPPORTED"]
            assert "POST" in errors[0]["message"]


def test_a_bad_token_in_connection_init_closes_the_socket(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(app_settings(tmp_path), database_url)
    bad = {"Authorization": "Bearer rjk_not-a-token"}
    with TestClient(app) as client:
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": bad})
            closed = ws.receive()
            assert closed["type"] == "websocket.close", closed
            assert closed["code"] == 4403
        with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": bad})
            refused = ws.receive_json()
            assert refused["type"] == "connection_error"
            assert refused["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
        # A good token is still acknowledged.
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": AUTH})
            assert ws.receive_json()["type"] == "connection_ack"


# Automatic persisted queries (Apollo's protocol), in process.


async def test_an_unknown_hash_is_persisted_query_not_found(http: httpx.AsyncClient) -> None:
    for accept in (MODERN, LEGACY):
        answer = await http.post(
            "/graphql", json={"extensions": persisted(PROGRAMS)}, headers=accept
        )
        # 200 as Apollo Server answers it: the link then sends the document.
        assert answer.status_code == 200
        body = answer.json()
        assert body["errors"][0]["message"] == "PersistedQueryNotFound"
        assert codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_a_registered_hash_runs_over_post_and_get(http: httpx.AsyncClient) -> None:
    registered = await http.post(
        "/graphql", json={"query": PROGRAMS, "extensions": persisted(PROGRAMS)}, headers=MODERN
    )
    assert registered.json() == {"data": {"programs": []}, "extensions": {"cost": 1}}
    by_post = await http.post("/graphql", json={"extensions": persisted(PROGRAMS)}, headers=MODERN)
    assert by_post.json()["data"] == {"programs": []}
    by_get = await http.get(
        "/graphql", params={"extensions": json.dumps(persisted(PROGRAMS))}, headers=MODERN
    )
    assert by_get.status_code == 200, by_get.text
    assert by_get.json()["data"] == {"programs": []}


async def test_a_hash_that_does_not_match_the_query_is_refused(http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/graphql",
        json={"query": PROGRAMS, "extensions": persisted("{ programs { id } }")},
        headers=MODERN,
    )
    assert answer.status_code == 400
    assert codes(answer.json()) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    # Nothing was registered under the wrong hash.
    again = await http.post(
        "/graphql", json={"extensions": persisted("{ programs { id } }")}, headers=MODERN
    )
    assert codes(again.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    "extension",
    [
        {"version": 2, "sha256Hash": "0" * 64},
        {"version": 1, "sha256Hash": "not-a-hash"},
        {"version": 1},
        "a string",
    ],
    ids=["version", "hash", "missing hash", "not an object"],
)
async def test_a_malformed_persisted_query_extension_is_refused(
    http: httpx.AsyncClient, extension: object
) -> None:
    answer = await http.post(
        "/graphql", json={"extensions": {"persistedQuery": extension}}, headers=LEGACY
    )
    assert codes(answer.json()) == ["PERSISTED_QUERY_INVALID"], answer.text


def test_the_document_cache_is_bounded() -> None:
    cache = DocumentCache(capacity=3)
    for n in range(5):
        cache.put(f"h{n}", f"doc {n}")
    assert len(cache) == 3
    assert cache.get("h0") is None
    assert cache.get("h1") is None
    assert cache.get("h2") == "doc 2"
    cache.put("h5", "doc 5")  # h2 was used last: h3 goes
    assert cache.get("h3") is None
    assert cache.get("h2") == "doc 2"


# Node clients against a live server.


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/node's npm packages, installed from its lockfile once per session."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed: the node clients cannot run")
    stamp = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert installed.returncode == 0, installed.stderr
    return NODE_DIR / "node_modules"


async def run_node(script: str, *args: str) -> list[dict[str, Any]]:
    """Run a script of tests/node; its output is one JSON object per line."""
    process = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


async def test_the_graphql_over_http_audit_passes_without_a_warning(
    node_modules: Path, live_server: LiveServer
) -> None:
    results = await run_node("audit.mjs", f"{live_server.url}/graphql")
    assert len(results) >= 60
    not_ok = [r for r in results if r["status"] != "ok"]
    assert not_ok == [], not_ok


async def test_apollos_persisted_query_link_registers_then_sends_hashes(
    node_modules: Path, live_server: LiveServer
) -> None:
    for method in ("POST", "GET"):
        report = await run_node(
            "apollo-apq.mjs", f"{live_server.url}/graphql", live_server.admin_token, method
        )
        first, second = report
        # First run: the hash alone is not found, the link sends the document with it.
        assert first["data"]["programs"], first
        assert [(r["method"], r["hasQuery"]) for r in first["requests"]] == [
            (method, False),
            ("POST", True),
        ]
        # Second run (a fresh client, same document): the hash alone is enough.
        assert second["data"] == first["data"]
        assert [(r["method"], r["hasQuery"]) for r in second["requests"]] == [(method, False)]


@pytest.fixture
async def allow_list_server(database_url: str) -> AsyncIterator[tuple[str, Path]]:
    """`rujuk serve` with RUJUK_PERSISTED_QUERIES=only on a database of its own."""
    with tempfile.TemporaryDirectory(prefix="rujuk-apq-") as folder:
        async with running_server(
            database_url,
            ADMIN_TOKEN,
            Path(folder),
            settings={"RUJUK_PERSISTED_QUERIES": "only"},
        ) as base:
            yield base, Path(folder)


async def test_only_registered_documents_run_in_allow_list_mode(
    node_modules: Path, allow_list_server: tuple[str, Path], database_url: str
) -> None:
    base, folder = allow_list_server
    url = f"{base}/graphql"
    refused = await run_node("apollo-apq.mjs", url, ADMIN_TOKEN, "POST")
    assert [e["extensions"]["code"] for e in refused[0]["errors"]] == [
        "PERSISTED_QUERY_NOT_ALLOWED"
    ]
    sent = refused[0]["requests"][-1]["query"]
    async with httpx.AsyncClient(timeout=10) as client:
        plain = await client.post(url, json={"query": sent}, headers=AUTH)
        assert codes(plain.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]
        # Registered by the operator, from an Apollo persisted-query manifest.
        manifest = folder / "manifest.json"
        manifest.write_text(
            json.dumps(
                {
                    "format": "apollo-persisted-query-manifest",
                    "version": 1,
                    "operations": [
                        {"id": sha256(sent), "name": "Programs", "type": "query", "body": sent}
                    ],
                }
            )
        )
        environ = server_environment(database_url, ADMIN_TOKEN, folder / "data")
        added = await asyncio.to_thread(
            subprocess.run,
            rujuk_command("persisted-queries", "add", str(manifest)),
            env=environ,
            capture_output=True,
            text=True,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        assert sha256(sent) in added.stdout
        allowed = await run_node("apollo-apq.mjs", url, ADMIN_TOKEN, "POST")
        assert allowed[0]["data"]["programs"] == []
        assert [r["hasQuery"] for r in allowed[0]["requests"]] == [False]
        # The full text of a registered document runs too; any other text does not.
        assert (await client.post(url, json={"query": sent}, headers=AUTH)).json()["data"]
        other = await client.post(url, json={"query": "{ programs { id } }"}, headers=AUTH)
        assert codes(other.json()) == ["PERSISTED_QUERY_NOT_ALLOWED"]


def test_an_unregistered_subscription_is_refused_in_allow_list_mode(
    database_url: str, tmp_path: Path
) -> None:
    settings = dataclasses.replace(app_settings(tmp_path), persisted_queries="only")
    app = create_app(settings, database_url)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": AUTH})
        assert ws.receive_json()["type"] == "connection_ack"
        payload = {"query": SUBSCRIPTION, "variables": {"p": "UHJvZ3JhbTox"}}
        ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        message = ws.receive_json()
        assert message["type"] == "error", message
        assert [e["extensions"]["code"] for e in message["payload"]] == [
            "PERSISTED_QUERY_NOT_ALLOWED"
        ]
        asyncio.run(register(database_url, SUBSCRIPTION))
        ws.send_json({"id": "2", "type": "subscribe", "payload": payload})
        ran = ws.receive_json()
        # It ran: the resolver itself says the program does not exist.
        assert ran["type"] == "next", ran
        assert [e["extensions"]["code"] for e in ran["payload"]["errors"]] == ["NOT_FOUND"]


async def register(database_url: str, document: str) -> None:
    conn = await connect(database_url)
    try:
        await add_documents(conn, [(sha256(document), document, None)])
    finally:
        await conn.close()


def test_accept_with_zero_quality_for_graphql_response_json_gets_json() -> None:
    refused = f"{GRAPHQL_RESPONSE};q=0, application/json"
    assert response_media_type(refused) == "application/json"
    assert response_media_type(f"application/json;q=0.9, {GRAPHQL_RESPONSE}") == GRAPHQL_RESPONSE
