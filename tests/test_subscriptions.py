"""rewardEarned and referralCreated over WebSocket (graphql-transport-ws)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient, WebSocketTestSession

from rujuk.app import create_app
from rujuk.ids import local_id
from tests.conftest import app_settings
from tests.fixtures import CREATE_PROGRAM, DEFAULT_TIERS, REGISTER
from tests.graphql_client import ADMIN_TOKEN
from tests.ledger import RECORD

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def post(client: TestClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables}, headers=AUTH)
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def subscribe(
    ws: WebSocketTestSession, app: Starlette, query: str, variables: dict[str, Any]
) -> None:
    """Start the subscription and wait until it follows its program's events (an event
    applied before that is not the subscriber's: without the wait the test raced it)."""
    program = local_id(variables["p"], "Program")
    assert program is not None
    graphs = app.state.runtime.graphs
    before = graphs.listener_count(program)
    ws.send_json({"type": "connection_init", "payload": AUTH})
    assert ws.receive_json()["type"] == "connection_ack"
    ws.send_json(
        {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )
    deadline = time.monotonic() + 10
    while graphs.listener_count(program) == before:
        assert time.monotonic() < deadline, "the subscription did not start"
        time.sleep(0.01)


def test_reward_earned_and_referral_created(database_url: str, tmp_path: Path) -> None:
    app = create_app(app_settings(tmp_path), database_url)
    with TestClient(app) as client:
        created = post(client, CREATE_PROGRAM, {"input": {"name": "Live", "tiers": DEFAULT_TIERS}})
        program_id = created["createProgram"]["program"]["id"]
        root = post(
            client,
            REGISTER,
            {"input": {"programId": program_id, "externalId": "root", "displayName": "Root"}},
        )["registerCustomer"]["customer"]
        code = root["referralCodes"][0]["code"]
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            subscribe(
                ws,
                app,
                "subscription($p: ID!) { referralCreated(programId: $p) "
                "{ code status referee { externalId } referrer { externalId } } }",
                {"p": program_id},
            )
            post(
                client,
                REGISTER,
                {
                    "input": {
                        "programId": program_id,
                        "externalId": "kid",
                        "displayName": "Kid",
                        "referralCode": code,
                    }
                },
            )
            message = ws.receive_json()
            assert message["type"] == "next", message
            assert message["payload"]["data"]["referralCreated"] == {
                "code": code,
                "status": "ACTIVE",
                "referee": {"externalId": "kid"},
                "referrer": {"externalId": "root"},
            }
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            subscribe(
                ws,
                app,
                "subscription($p: ID!, $c: ID) { rewardEarned(programId: $p, customerId: $c) "
                "{ amount level beneficiary { externalId } purchase { orderId } } }",
                {"p": program_id, "c": root["id"]},
            )
            purchase = {
                "programId": program_id,
                "customerExternalId": "kid",
                "orderId": "live-1",
                "amount": "20000",
            }
            post(client, RECORD, {"input": purchase})
            message = ws.receive_json()
            assert message["payload"]["data"]["rewardEarned"] == {
                "amount": "2000",
                "level": 1,
                "beneficiary": {"externalId": "root"},
                "purchase": {"orderId": "live-1"},
            }


def test_subscriptions_need_a_manager_token(database_url: str, tmp_path: Path) -> None:
    app = create_app(app_settings(tmp_path), database_url)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": 'subscription { referralCreated(programId: "x") { id } }'},
            }
        )
        message = ws.receive_json()
        # The subscription starts, and its first result carries the error.
        assert message["type"] == "next", message
        assert message["payload"]["data"] is None
        assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
