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
POST /graphql-core and /graphql: the same purchase as a GraphQL mutation shaped like rujuk's
(`recordPurchase(input)` answering `purchase { id } rewards { amount } userErrors { code }`),
on a strawberry schema whose resolver does /purchase's work and nothing else (no token, no
customer lookup: the seeded externalId c00000042 is customer 42). /graphql-core runs it on
graphql-core with the document parsed and validated once per text, as rujuk runs its
operations: the least a GraphQL answer costs in rujuk's stack. /graphql is strawberry's
stock ASGI view with its parser and validation caches.
Configured by BENCH_DATABASE_URL and BENCH_PROGRAM_ID; served by uvicorn like rujuk.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from inspect import isawaitable

import orjson
import strawberry
from graphql import DocumentNode, GraphQLError, execute, parse, validate
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from rujuk.compat.strawberry import core_schema
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
    purchase_id = await _record(
        request.app.state, int(body["customer_id"]), body["order_id"], Decimal(body["amount"])
    )
    return JSONResponse({"purchase": purchase_id}, headers=_echoed(request))


async def _record(state: State, customer_id: int, order_id: str, amount: Decimal) -> int:
    """The purchase, through the group commit: its id."""
    now = datetime.now(UTC)
    new = NewPurchase(
        customer_id=customer_id,
        order_id=order_id,
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
    batches: GroupCommit[int, NewPurchase, int] = state.batches
    purchase_id: int = await batches.submit(state.program_id, new)
    return purchase_id


@strawberry.input
class RecordPurchaseInput:
    program_id: strawberry.ID
    customer_external_id: str
    order_id: str
    amount: str


@strawberry.type
class Purchase:
    id: strawberry.ID


@strawberry.type
class Reward:
    amount: str


@strawberry.type
class UserError:
    code: str
    message: str


@strawberry.type
class RecordPurchasePayload:
    purchase: Purchase | None
    rewards: list[Reward]
    user_errors: list[UserError]


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> bool:
        return True


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def record_purchase(
        self, info: strawberry.Info, input: RecordPurchaseInput
    ) -> RecordPurchasePayload:
        """/purchase's work behind strawberry's stock view: the seeded externalId c00000042
        is customer 42, as /purchase is sent the id itself."""
        amount = Decimal(input.amount)
        purchase_id = await _record(
            info.context["request"].app.state,
            int(input.customer_external_id[1:]),
            input.order_id,
            amount,
        )
        return RecordPurchasePayload(
            purchase=Purchase(id=strawberry.ID(to_global_id("Purchase", purchase_id))),
            rewards=[Reward(amount=str(amount / 20))],
            user_errors=[],
        )


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


# strawberry as its documentation serves it fast: the parsed and the validated documents
# cached by the query's text (rujuk caches both by text too).
STOCK_SCHEMA = strawberry.Schema(
    Query,
    Mutation,
    extensions=[lambda: ParserCache(maxsize=100), lambda: ValidationCache(maxsize=100)],
)

# The graphql-core schema that strawberry built, which /graphql-core runs directly.
CORE_SCHEMA = core_schema(STOCK_SCHEMA)


@functools.lru_cache(maxsize=100)
def _checked(query: str) -> DocumentNode:
    """The parsed document, validated once per text (as rujuk's guard caches it)."""
    document = parse(query)
    errors = validate(CORE_SCHEMA, document)
    if errors:
        raise errors[0]
    return document


async def graphql_core(request: Request) -> Response:
    """The same schema run on graphql-core directly, as rujuk runs its operations: the least
    a GraphQL answer costs in this stack."""
    body = orjson.loads(await request.body())
    try:
        document = _checked(body["query"])
    except GraphQLError as error:
        return Response(orjson.dumps({"errors": [error.formatted]}), status_code=400)
    outcome = execute(
        CORE_SCHEMA,
        document,
        context_value={"request": request},
        variable_values=body.get("variables"),
    )
    result = await outcome if isawaitable(outcome) else outcome
    answer: dict[str, object] = {"data": result.data}
    if result.errors:
        answer["errors"] = [e.formatted for e in result.errors]
    return Response(orjson.dumps(answer), media_type="application/json")


app = Starlette(
    routes=[
        Route("/purchase", purchase, methods=["POST"]),
        Route("/graphql", GraphQL(STOCK_SCHEMA, graphql_ide=None)),
        Route("/graphql-core", graphql_core, methods=["POST"]),
        Route("/dashboard", dashboard),
        Route("/healthz", healthz),
    ],
    lifespan=_lifespan,
)
