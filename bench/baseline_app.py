"""The floor rujuk is measured against: the same purchase transaction, no GraphQL.

POST /purchase with {"customer_id", "order_id", "amount"}: lock the program row, then the
same one-statement insert rujuk uses (purchase, rewards, ledger entries, graph event,
notify) with a precomputed reward, commit. Configured by BENCH_DATABASE_URL and
BENCH_PROGRAM_ID; served by uvicorn like rujuk.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rujuk.db import purchases as purchase_queries
from rujuk.db.pool import create_pool


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await create_pool(os.environ["BENCH_DATABASE_URL"], max_size=10)
    app.state.program_id = int(os.environ["BENCH_PROGRAM_ID"])
    try:
        yield
    finally:
        await app.state.pool.close()


async def purchase(request: Request) -> Response:
    """Record one purchase with a fixed 5% level-1 commission to customer 1."""
    body = json.loads(await request.body())
    customer_id = int(body["customer_id"])
    amount = Decimal(body["amount"])
    program_id: int = request.app.state.program_id
    now = datetime.now(UTC)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        version = await purchase_queries.lock_ledger(conn, program_id)
        assert version is not None
        inserted = await purchase_queries.insert_purchase(
            conn,
            program_id=program_id,
            customer_id=customer_id,
            order_id=body["order_id"],
            amount=amount,
            occurred_at=now,
            created_at=now,
            available_at=now + timedelta(days=14),
            rewards=[
                (
                    1,
                    "REFERRER_COMMISSION",
                    1,
                    Decimal("0.05"),
                    "Perunggu",
                    amount / 20,
                    (customer_id,),
                )
            ],
            version=version + 1,
        )
    assert inserted is not None, "the load generator sends each order once"
    result, rewards = inserted
    return JSONResponse({"purchase": result.id, "rewards": [r.id for r in rewards]})


async def healthz(_request: Request) -> Response:
    """Up once the lifespan has opened the pool."""
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[Route("/purchase", purchase, methods=["POST"]), Route("/healthz", healthz)],
    lifespan=_lifespan,
)
