"""The bench's floor app (bench/baseline_app.py): its GraphQL routes record the very purchase
its plain route does (one group commit, a 5 % commission), so that their req/s, beside the
plain route's, measure what GraphQL alone costs in rujuk's stack."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from rujuk.ids import local_id, to_global_id
from tests.fixtures import create_program, register_ok
from tests.graphql_client import GraphQLClient

MUTATION = """mutation($i: RecordPurchaseInput!) { recordPurchase(input: $i)
  { purchase { id } rewards { amount } userErrors { code } } }"""


async def test_each_route_of_the_floor_records_the_same_purchase(
    gql: GraphQLClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = await create_program(gql)
    customer = await register_ok(gql, program["id"], "buyer")
    customer_id = local_id(customer["id"], "Customer")
    program_id = local_id(program["id"], "Program")
    assert customer_id is not None
    assert program_id is not None
    monkeypatch.setenv("BENCH_DATABASE_URL", database_url)
    monkeypatch.setenv("BENCH_PROGRAM_ID", str(program_id))
    from bench.baseline_app import app

    def body(order: str) -> dict[str, object]:
        return {"query": MUTATION, "variables": variables(order)}

    def variables(order: str) -> dict[str, object]:
        return {
            "i": {
                "programId": program["id"],
                "customerExternalId": f"c{customer_id:08d}",
                "orderId": order,
                "amount": "150000",
            }
        }

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://floor") as http:
            plain, core, stock = await asyncio.gather(
                http.post(
                    "/purchase",
                    json={"customer_id": customer_id, "order_id": "plain", "amount": "150000"},
                ),
                http.post("/graphql-core", json=body("core")),
                http.post("/graphql", json=body("stock")),
            )
            refused = await http.post(
                "/graphql-core", json={"query": "{ nothing }", "variables": {}}
            )
    assert refused.status_code == 400
    answers = [core.json(), stock.json()]
    ids = {plain.json()["purchase"]}
    for answer in answers:
        payload = answer["data"]["recordPurchase"]
        assert payload["rewards"] == [{"amount": "7500"}]
        assert payload["userErrors"] == []
        ids.add(local_id(payload["purchase"]["id"], "Purchase"))
    assert len(ids) == 3
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT p.order_id, p.amount, r.amount AS reward FROM purchase p"
            " JOIN reward r ON r.purchase_id = p.id WHERE p.id = ANY($1::bigint[])"
            " ORDER BY p.order_id",
            sorted(ids),
        )
    finally:
        await conn.close()
    assert [(r["order_id"], r["amount"], r["reward"]) for r in rows] == [
        ("core", 150000, 7500),
        ("plain", 150000, 7500),
        ("stock", 150000, 7500),
    ]
    assert to_global_id("Customer", customer_id) == customer["id"]
