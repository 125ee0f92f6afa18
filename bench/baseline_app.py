"""The floor rujuk is measured against: the same purchase transaction, no GraphQL.

POST /purchase with {"customer_id", "order_id", "amount"}: the same group commit as rujuk
(purchases arriving while the program's ledger is busy share one transaction: lock the
program row, look the orders up, the one-statement insert of purchases, rewards, ledger
entries, graph events and notify, commit) with a precomputed reward and no graph.
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

from rujuk.db import purchases as purchase_queries
from rujuk.db.pool import create_pool
from rujuk.db.purchases import NewPurchase
from rujuk.group_commit import GroupCommit


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    pool = await create_pool(os.environ["BENCH_DATABASE_URL"], max_size=10)
    app.state.pool = pool
    app.state.program_id = int(os.environ["BENCH_PROGRAM_ID"])

    version: list[int] = []  # the graph version this process last wrote, as rujuk keeps it

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
                    rules_version=1,
                )
        if stored is None:
            async with pool.acquire() as conn, conn.transaction():
                locked = await purchase_queries.lock_ledger(conn, program_id)
                assert locked is not None
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
                    rules_version=1,
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
    return JSONResponse({"purchase": purchase_id})


async def healthz(_request: Request) -> Response:
    """Up once the lifespan has opened the pool."""
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[Route("/purchase", purchase, methods=["POST"]), Route("/healthz", healthz)],
    lifespan=_lifespan,
)
