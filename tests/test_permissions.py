"""The permission matrix: every operation and sensitive field of the contract x every token kind."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from rujuk.app import create_app
from rujuk.db.pool import connect
from rujuk.services import notifications
from tests.conftest import app_settings
from tests.fixtures import CREATE_PROGRAM, REGISTER
from tests.graphql_client import ADMIN_TOKEN

KINDS = (
    "admin",
    "partner",
    "other_partner",
    "self",
    "other_customer",
    "anonymous",
    "expired",
    "revoked",
)
OK, NULL, F, U = "ok", "null", "FORBIDDEN", "UNAUTHENTICATED"


def expect(
    admin: str, partner: str, other_partner: str, me: str, other_customer: str, anonymous: str
) -> dict[str, str]:
    """Expected outcome per kind; expired and revoked tokens are always UNAUTHENTICATED."""
    return {
        "admin": admin,
        "partner": partner,
        "other_partner": other_partner,
        "self": me,
        "other_customer": other_customer,
        "anonymous": anonymous,
        "expired": U,
        "revoked": U,
    }


@dataclass
class World:
    """Program A (andi <- budi <- cici, a purchase by budi) and program B (bob <- bea)."""

    ids: dict[str, str]
    codes: dict[str, str]
    tokens: dict[str, str | None]


def leaf(value: Any) -> Any:
    """The first scalar of a response's data, depth first (None if a field on the way is null)."""
    while isinstance(value, dict | list):
        if not value:
            return value
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return value


def outcome(body: dict[str, Any]) -> str:
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    return NULL if leaf(body["data"]) is None else OK


Variables = Callable[[World, str], dict[str, Any]]


def fixed(**names: str) -> Variables:
    """Variables naming objects of the world: {"id": "budi"} -> budi's global id."""
    return lambda world, _kind: {k: world.ids[v] for k, v in names.items()}


NODE = "query($id: ID!) { node(id: $id) { id } }"
CUSTOMER_FIELDS = (
    "externalId channel joinedAt program { id } referralCodes { code } referrer { id } "
    "referral { id } ancestors { id } referrals { totalCount } downline { totalCount } "
    "stats { tier } rewards { totalCount } balance { pending }"
)

QUERIES: list[tuple[str, str, Variables, dict[str, str]]] = [
    ("node Customer", NODE, fixed(id="budi"), expect(OK, OK, F, OK, F, U)),
    ("node Program", NODE, fixed(id="A"), expect(OK, OK, F, OK, OK, U)),
    ("node Referral", NODE, fixed(id="budi_link"), expect(OK, OK, F, OK, F, U)),
    ("node Purchase", NODE, fixed(id="budi_purchase"), expect(OK, OK, F, OK, F, U)),
    ("node Reward", NODE, fixed(id="budi_welcome"), expect(OK, OK, F, OK, F, U)),
    ("node other program's Customer", NODE, fixed(id="bea"), expect(OK, F, OK, F, F, U)),
    ("node other program's Referral", NODE, fixed(id="bea_link"), expect(OK, F, OK, F, F, U)),
    (
        "node other program's Purchase",
        NODE,
        fixed(id="bea_purchase"),
        expect(OK, F, OK, F, F, U),
    ),
    ("node other program's Reward", NODE, fixed(id="bob_commission"), expect(OK, F, OK, F, F, U)),
    ("node other Program", NODE, fixed(id="B"), expect(OK, F, OK, F, F, U)),
    (
        "program",
        "query($id: ID!) { program(id: $id) { name tiers { name } } }",
        fixed(id="A"),
        expect(OK, OK, F, OK, OK, U),
    ),
    (
        "program stats",
        "query($id: ID!) { program(id: $id) { stats { customers } } }",
        fixed(id="A"),
        expect(OK, OK, F, F, F, U),
    ),
    ("programs", "{ programs { id } }", fixed(), expect(OK, OK, OK, OK, OK, U)),
    (
        "customer",
        f'query($p: ID!) {{ customer(programId: $p, externalId: "budi") {{ {CUSTOMER_FIELDS} }} }}',
        fixed(p="A"),
        expect(OK, OK, F, OK, F, U),
    ),
    (
        "referralCode (public)",
        "query($c: String!) { referralCode(code: $c) { code uses active owner { displayName } } }",
        lambda w, _k: {"c": w.codes["andi"]},
        expect(OK, OK, OK, OK, OK, OK),
    ),
    (
        "contacts of a code's owner",
        "query($c: String!) { referralCode(code: $c) { owner { email phone } } }",
        lambda w, _k: {"c": w.codes["andi"]},
        expect(OK, OK, NULL, NULL, NULL, NULL),
    ),
    (
        "details of a code's owner",
        "query($c: String!) { referralCode(code: $c) { owner { externalId } } }",
        lambda w, _k: {"c": w.codes["andi"]},
        expect(OK, OK, F, F, OK, U),
    ),
    (
        "own contacts",
        "query($id: ID!) { node(id: $id) { ... on Customer { email phone } } }",
        fixed(id="budi"),
        expect(OK, OK, F, NULL, F, U),
    ),
    (
        "leaderboard",
        "query($p: ID!) { leaderboard(programId: $p) { rank customer { displayName } } }",
        fixed(p="A"),
        expect(OK, OK, F, OK, OK, U),
    ),
    ("viewer", "{ viewer { id } }", fixed(), expect(NULL, NULL, NULL, OK, OK, U)),
    ("apiTokens", "{ apiTokens { id role label } }", fixed(), expect(OK, OK, OK, F, F, U)),
    (
        "exportCustomerData",
        "query($id: ID!) { exportCustomerData(customerId: $id) { email } }",
        fixed(id="budi"),
        expect(OK, F, F, F, F, U),
    ),
]


def unique(kind: str) -> str:
    return f"{kind}-{time.monotonic_ns()}"


MUTATIONS: list[tuple[str, str, Variables, dict[str, str]]] = [
    (
        "createProgram",
        CREATE_PROGRAM,
        lambda _w, k: {
            "input": {"name": f"By {k}", "tiers": [{"name": "T", "levelRates": ["0.1"]}]}
        },
        expect(OK, F, F, F, F, U),
    ),
    (
        "registerCustomer",
        REGISTER,
        lambda w, k: {
            "input": {"programId": w.ids["A"], "externalId": unique(k), "displayName": "New"}
        },
        expect(OK, OK, F, F, F, U),
    ),
    (
        "issueReferralCode",
        "mutation($id: ID!) { issueReferralCode(input: {customerId: $id}) "
        "{ referralCode { code } } }",
        fixed(id="budi"),
        expect(OK, OK, F, F, F, U),
    ),
    (
        "recordPurchase",
        "mutation($p: ID!, $o: String!) { recordPurchase(input: {programId: $p, "
        'customerExternalId: "cici", orderId: $o, amount: "1000"}) { purchase { id } } }',
        lambda w, k: {"p": w.ids["A"], "o": unique(k)},
        expect(OK, OK, F, F, F, U),
    ),
    (
        "refundPurchase",
        'mutation($p: ID!) { refundPurchase(input: {programId: $p, orderId: "o-budi", '
        'refundId: "r-1", amount: "1"}) { purchase { id } } }',
        fixed(p="A"),
        expect(OK, OK, F, F, F, U),
    ),
    (
        "settleRewards",
        "mutation($p: ID!) { settleRewards(input: {programId: $p}) { approvedCount } }",
        fixed(p="A"),
        expect(OK, OK, F, F, F, U),
    ),
    (
        "reviewReferral",
        "mutation($id: ID!) { reviewReferral(input: {referralId: $id, decision: APPROVE}) "
        "{ referral { id } } }",
        fixed(id="budi_link"),
        expect(OK, OK, F, F, F, U),
    ),
    (
        "eraseCustomer",
        "mutation($id: ID!) { eraseCustomer(input: {customerId: $id}) { customer { id } } }",
        fixed(id="dodi"),
        expect(OK, OK, F, F, F, U),
    ),
    (
        "createApiToken",
        'mutation { createApiToken(input: {role: ADMIN, label: "x"}) { token } }',
        fixed(),
        expect(OK, F, F, F, F, U),
    ),
    (
        "issueCustomerToken",
        "mutation($id: ID!) { issueCustomerToken(input: {customerId: $id}) { token } }",
        fixed(id="budi"),
        expect(OK, OK, F, F, F, U),
    ),
    (
        "revokeApiToken",
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { revokedAt } } }",
        fixed(id="spare_token"),
        expect(OK, OK, F, F, F, U),
    ),
    (
        "revokeApiToken of an ADMIN token",
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { revokedAt } } }",
        fixed(id="spare_admin_token"),
        expect(OK, F, F, F, F, U),
    ),
]

SUBSCRIPTIONS: list[tuple[str, str, Variables, dict[str, str]]] = [
    (
        "rewardEarned (program)",
        "subscription($p: ID!) { rewardEarned(programId: $p) { amount } }",
        fixed(p="A"),
        expect(OK, OK, F, F, F, U),
    ),
    (
        "rewardEarned (one customer)",
        "subscription($p: ID!, $c: ID) { rewardEarned(programId: $p, customerId: $c) { amount } }",
        fixed(p="A", c="andi"),
        expect(OK, OK, F, F, OK, U),
    ),
    (
        "referralCreated",
        "subscription($p: ID!) { referralCreated(programId: $p) { code } }",
        fixed(p="A"),
        expect(OK, OK, F, F, F, U),
    ),
]


def post(
    client: TestClient, token: str | None, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def data(client: TestClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = post(client, ADMIN_TOKEN, query, variables)
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]
    return found


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def number(global_id: str) -> int:
    raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    return int(raw.rpartition(":")[2])


def expired_token(key: bytes, customer_id: str, program_id: str) -> str:
    """A customer token whose signature is good but whose expiry has passed."""
    claims = {"c": number(customer_id), "p": number(program_id), "e": int(time.time()) - 5}
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"rjc_{body}.{signature}"


def build_world(client: TestClient, key: bytes) -> World:
    ids: dict[str, str] = {}
    codes: dict[str, str] = {}
    tiers = [{"name": "T", "levelRates": ["0.10", "0.05"]}]
    for name in ("A", "B"):
        created = data(
            client,
            CREATE_PROGRAM,
            {"input": {"name": name, "tiers": tiers, "refereeReward": "500", "holdDays": 0}},
        )
        ids[name] = created["createProgram"]["program"]["id"]

    def register(program: str, name: str, referrer: str | None) -> None:
        payload = data(
            client,
            REGISTER,
            {
                "input": {
                    "programId": ids[program],
                    "externalId": name,
                    "displayName": name.title(),
                    "email": f"{name}@example.com",
                    "phone": f"08123456{len(ids):04d}",
                    "referralCode": None if referrer is None else codes[referrer],
                }
            },
        )["registerCustomer"]
        assert payload["userErrors"] == [], payload
        ids[name] = payload["customer"]["id"]
        codes[name] = payload["customer"]["referralCodes"][0]["code"]
        if payload["referral"] is not None:
            ids[f"{name}_link"] = payload["referral"]["id"]

    for program, name, referrer in [
        ("A", "andi", None),
        ("A", "budi", "andi"),
        ("A", "cici", "budi"),
        ("A", "dodi", None),
        ("B", "bob", None),
        ("B", "bea", "bob"),
    ]:
        register(program, name, referrer)
    for program, buyer in (("A", "budi"), ("B", "bea")):
        bought = data(
            client,
            "mutation($p: ID!, $c: String!, $o: String!) { recordPurchase(input: "
            '{programId: $p, customerExternalId: $c, orderId: $o, amount: "100000"}) '
            "{ purchase { id } rewards { id kind beneficiary { externalId } } } }",
            {"p": ids[program], "c": buyer, "o": f"o-{buyer}"},
        )["recordPurchase"]
        ids[f"{buyer}_purchase"] = bought["purchase"]["id"]
        for reward in bought["rewards"]:
            suffix = "welcome" if reward["kind"] == "REFEREE_WELCOME" else "commission"
            ids[f"{reward['beneficiary']['externalId']}_{suffix}"] = reward["id"]

    def api_token(role: str, program: str | None, label: str) -> tuple[str, str]:
        payload = data(
            client,
            "mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) "
            "{ token apiToken { id } } }",
            {"input": {"role": role, "programId": program and ids[program], "label": label}},
        )["createApiToken"]
        return payload["token"], payload["apiToken"]["id"]

    def customer_token(name: str) -> str:
        token: str = data(
            client,
            "mutation($id: ID!) { issueCustomerToken(input: {customerId: $id}) { token } }",
            {"id": ids[name]},
        )["issueCustomerToken"]["token"]
        return token

    partner, _ = api_token("PARTNER", "A", "partner A")
    other_partner, _ = api_token("PARTNER", "B", "partner B")
    revoked, revoked_id = api_token("PARTNER", "A", "revoked")
    _, ids["spare_token"] = api_token("PARTNER", "A", "spare")
    _, ids["spare_admin_token"] = api_token("ADMIN", None, "spare admin")
    data(
        client,
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } } }",
        {"id": revoked_id},
    )
    tokens: dict[str, str | None] = {
        "admin": ADMIN_TOKEN,
        "partner": partner,
        "other_partner": other_partner,
        "self": customer_token("budi"),
        "other_customer": customer_token("andi"),
        "anonymous": None,
        "expired": expired_token(key, ids["budi"], ids["A"]),
        "revoked": revoked,
    }
    # "other_customer" looks at budi's data; for the rewardEarned row it subscribes to itself.
    return World(ids, codes, tokens)


async def signing_key(database_url: str) -> bytes:
    conn = await connect(database_url)
    try:
        key: bytes = await conn.fetchval("SELECT key FROM signing_key")
    finally:
        await conn.close()
    return key


async def test_every_query_and_mutation_for_every_token_kind(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(app_settings(tmp_path), database_url)
    with TestClient(app) as client:
        world = build_world(client, await signing_key(database_url))
        mismatches = []
        for name, query, variables, expected in QUERIES + MUTATIONS:
            for kind in KINDS:
                body = post(client, world.tokens[kind], query, variables(world, kind))
                if outcome(body) != expected[kind]:
                    mismatches.append((name, kind, expected[kind], body))
        assert mismatches == []
        # Nothing the other partner tried was written in program A.
        listed = data(client, "{ apiTokens { label revokedAt } }", {})["apiTokens"]
        live = {t["label"] for t in listed if t["revokedAt"] is None}
        assert live == {"partner A", "partner B", "x"}


def subscribe(
    ws: WebSocketTestSession, token: str | None, query: str, variables: Any
) -> str | None:
    """None once subscribed; UNAUTHENTICATED when connection_init's token closed the socket
    (4403)."""
    payload = {} if token is None else {"Authorization": f"Bearer {token}"}
    ws.send_json({"type": "connection_init", "payload": payload})
    reply = ws.receive()
    if reply["type"] == "websocket.close":
        assert reply["code"] == 4403, reply
        return "UNAUTHENTICATED"
    assert json.loads(reply["text"])["type"] == "connection_ack"
    ws.send_json(
        {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )
    return None


def first_result(ws: WebSocketTestSession, refused: str | None = None) -> str:
    if refused is not None:
        return refused
    message = ws.receive_json()
    assert message["type"] in ("next", "error"), message
    payload = message["payload"]
    errors = payload if message["type"] == "error" else payload.get("errors")
    if errors:
        return str(errors[0]["extensions"]["code"])
    return OK if leaf(payload["data"]) is not None else NULL


async def test_every_subscription_for_every_token_kind(database_url: str, tmp_path: Path) -> None:
    app = create_app(app_settings(tmp_path), database_url)
    with TestClient(app) as client, contextlib.ExitStack() as stack:
        world = build_world(client, await signing_key(database_url))
        sockets = []
        for name, query, variables, expected in SUBSCRIPTIONS:
            for kind in KINDS:
                ws = stack.enter_context(
                    client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"])
                )
                refused = subscribe(ws, world.tokens[kind], query, variables(world, kind))
                sockets.append((name, kind, expected[kind], ws, refused))
        # Refusals arrive at once; the allowed subscriptions wait for these two events.
        mismatches = []
        for name, kind, wanted, ws, refused in sockets:
            if wanted != OK and (got := first_result(ws, refused)) != wanted:
                mismatches.append((name, kind, wanted, got))
        data(
            client,
            REGISTER,
            {
                "input": {
                    "programId": world.ids["A"],
                    "externalId": "late",
                    "displayName": "Late",
                    "referralCode": world.codes["budi"],
                }
            },
        )
        data(
            client,
            "mutation($p: ID!) { recordPurchase(input: {programId: $p, "
            'customerExternalId: "cici", orderId: "late", amount: "100000"}) '
            "{ purchase { id } } }",
            {"p": world.ids["A"]},
        )
        for name, kind, wanted, ws, refused in sockets:
            if wanted == OK and (got := first_result(ws, refused)) != wanted:
                mismatches.append((name, kind, wanted, got))
        assert mismatches == []


async def test_an_unexpected_error_in_a_subscription_is_masked(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any) -> AsyncIterator[Any]:
        raise RuntimeError("secret internals")
        yield  # an async generator, like the real stream

    monkeypatch.setattr(notifications, "referrals_created", broken)
    app = create_app(app_settings(tmp_path), database_url)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        query = "subscription($p: ID!) { referralCreated(programId: $p) { code } }"
        subscribe(ws, ADMIN_TOKEN, query, {"p": "x"})
        message = ws.receive_json()
    [error] = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["requestId"] in error["message"]
    assert "secret" not in json.dumps(message)
