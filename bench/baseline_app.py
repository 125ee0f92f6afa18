"""The floor rujuk is measured against: the same purchase transaction, no GraphQL.

POST /purchase with {"customer_id", "order_id", "amount"}: the same group commit as rujuk
(purchases arriving while the program's ledger is busy share one transaction: lock the
program row, look the orders up, the one-statement insert of purchases, rewards, ledger
entries, graph events and notify, commit) with a precomputed reward and no graph.
GET /dashboard?customer=ID: the customer dashboard of bench/dashboard.graphql (the
customer, its codes, balance, last 10 rewards with their count, and its first 10 referees'
names with their count) with the statements rujuk's resolvers run (rujuk/db), on one
connection, encoded as plain JSON. rujuk takes the referees and the tier from its in-memory
graph: here the referees are one indexed query on the links and the tier is left out.
Configured by BENCH_DATABASE_URL and BENCH_PROGRAM_ID; served by uvicorn like rujuk.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rujuk.db import codes as code_queries
from rujuk.db import customers as customer_queries
from rujuk.db import programs as program_queries
from rujuk.db import purchases as purchase_queries
from rujuk.db.pool import create_pool
from rujuk.db.purchases import NewPurchase
from rujuk.group_commit import GroupCommit
from rujuk.ids import to_global_id
from rujuk.services.referral_codes import is_active

# The pages of bench/dashboard.graphql.
PAGE = 10


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    pool = await create_pool(os.environ["BENCH_DATABASE_URL"], max_size=10)
    app.state.pool = pool
    app.state.program_id = int(os.environ["BENCH_PROGRAM_ID"])

    version: list[int] = []  # the graph version this process last wrote, as rujuk keeps it
    # The program's rules version, which the statement checks as rujuk's does: read under
    # the lock (the rules on/off part of the bench changes it with updateProgram).
    rules: list[int] = [1]

    async def commit(program_id: int, batch: Sequence[NewPurchase]) -> list[int | Exception]:
        now = datetime.now(UTC)
        stored = None
        if version:
            # rujuk's common case: one statement, written only if nobody wrote since.
            async with pool.acquire() as conn:
                stored = await purchase_queries.insert_purchases(
                    conn,
                    program_id,
                    batch,
                    created_at=now,
                    first_version=version[0] + 1,
                    rules_version=rules[0],
                )
        if stored is None:
            async with pool.acquire() as conn, conn.transaction():
                locked = await purchase_queries.lock_ledger(conn, program_id)
                assert locked is not None
                program = await program_queries.get_program(conn, program_id)
                assert program is not None
                rules[:] = [program.rules_version]
                recorded = await purchase_queries.find_purchases(
                    conn, program_id, [p.order_id for p in batch]
                )
                assert not recorded, "the load generator sends each order once"
                stored = await purchase_queries.insert_purchases(
                    conn,
                    program_id,
                    batch,
                    created_at=now,
                    first_version=locked + 1,
                    rules_version=rules[0],
                )
                assert stored is not None
                version[:] = [locked]
        version[:] = [version[0] + len(batch)]
        return [purchase.id for purchase, _ in stored]

    app.state.batches = GroupCommit(commit)
    try:
        yield
    finally:
        await pool.close()


async def purchase(request: Request) -> Response:
    """Record one purchase with a fixed 5% level-1 commission to customer 1."""
    body = json.loads(await request.body())
    customer_id = int(body["customer_id"])
    amount = Decimal(body["amount"])
    now = datetime.now(UTC)
    new = NewPurchase(
        customer_id=customer_id,
        order_id=body["order_id"],
        amount=amount,
        occurred_at=now,
        available_at=now + timedelta(days=14),
        eligible=True,
        rewards=[
            (
                1,
                "REFERRER_COMMISSION",
                1,
                Decimal("0.05"),
                "Perunggu",
                amount / 20,
                (customer_id,),
                None,
            )
        ],
    )
    batches: GroupCommit[int, NewPurchase, int] = request.app.state.batches
    purchase_id = await batches.submit(request.app.state.program_id, new)
    return JSONResponse({"purchase": purchase_id}, headers=_echoed(request))


async def dashboard(request: Request) -> Response:
    """The rows of bench/dashboard.graphql for one customer, without GraphQL or a token."""
    customer_id = int(request.query_params["customer"])
    async with request.app.state.pool.acquire() as conn:
        customer = await customer_queries.get_customer(conn, customer_id)
        if customer is None:
            return JSONResponse(
                {"error": "no such customer"}, status_code=404, headers=_echoed(request)
            )
        codes = await code_queries.codes_of(conn, [customer_id])
        balance = await purchase_queries.balance(conn, [customer_id])
        rewards, reward_count = await purchase_queries.rewards_of(
            conn, customer_id, None, PAGE + 1, None
        )
        referees = await conn.fetch(
            "SELECT referee_id FROM referral WHERE referrer_id = $1 ORDER BY id LIMIT $2",
            customer_id,
            PAGE,
        )
        referee_count = await conn.fetchval(
            "SELECT count(*) FROM referral WHERE referrer_id = $1", customer_id
        )
        names = await customer_queries.get_customers(conn, [r["referee_id"] for r in referees])
    pending, approved, reversed_ = balance.get(customer_id, (Decimal(0), Decimal(0), Decimal(0)))
    return JSONResponse(
        {
            "id": to_global_id("Customer", customer.id),
            "externalId": customer.external_id,
            "displayName": customer.display_name,
            "referralCodes": [
                {"code": c.code, "active": is_active(c, customer.erased)} for c in codes
            ],
            "balance": {
                "pending": str(pending),
                "approved": str(approved),
                "reversed": str(reversed_),
            },
            "rewards": {
                "totalCount": reward_count,
                "edges": [
                    {
                        "node": {
                            "id": to_global_id("Reward", r.id),
                            "kind": r.kind,
                            "level": r.level,
                            "amount": str(r.amount),
                            "status": r.status,
                            "createdAt": r.created_at.isoformat(),
                        }
                    }
                    for r in rewards[:PAGE]
                ],
            },
            "referrals": {
                "totalCount": referee_count,
                "edges": [
                    {"node": {"id": to_global_id("Customer", c.id), "displayName": c.display_name}}
                    for c in names
                ],
            },
        },
        headers=_echoed(request),
    )


def _echoed(request: Request) -> dict[str, str]:
    """The client's X-Request-ID sent back, as rujuk does (bench/mixed.lua times by it)."""
    request_id = request.headers.get("x-request-id")
    return {} if request_id is None else {"X-Request-ID": request_id}


async def healthz(_request: Request) -> Response:
    """Up once the lifespan has opened the pool."""
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/purchase", purchase, methods=["POST"]),
        Route("/dashboard", dashboard),
        Route("/healthz", healthz),
    ],
    lifespan=_lifespan,
)
