"""Reading customers and their place in the referral tree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from rujuk.access import Principal, Role
from rujuk.db import codes as code_queries
from rujuk.db import customers as customer_queries
from rujuk.db import referrals as referral_queries
from rujuk.db.pool import Reader
from rujuk.errors import DomainError, Forbidden, RequestError
from rujuk.graph import DownlineEntry
from rujuk.graph.tiers import tier_of
from rujuk.pagination import Page, paginate
from rujuk.records import Customer, Referral, ReferralCode
from rujuk.services.runtime import Runtime

MAX_TREE_DEPTH = 100


@dataclass(frozen=True, slots=True)
class CustomerStats:
    """A customer's figures (rewards.md, "Per-customer figures")."""

    direct_referrals: int
    qualified_referrals: int
    network_size: int
    network_revenue: Decimal
    influence: float
    tier: str
    depth: int


def check_depth(max_depth: int) -> None:
    """maxDepth must lie in [0, 100]."""
    if not 0 <= max_depth <= MAX_TREE_DEPTH:
        raise RequestError(f"maxDepth must be between 0 and {MAX_TREE_DEPTH}", "INVALID_INPUT")


async def find_customer(
    runtime: Runtime, principal: Principal, program_id: int, external_id: str
) -> Customer | None:
    """A customer by the partner's own ID; a CUSTOMER token may look up only itself."""
    principal.require_authenticated()
    if principal.role is Role.CUSTOMER:
        if principal.program_id != program_id:
            raise Forbidden("this token may not read that program")
    else:
        principal.require_manager(program_id)
    async with runtime.pool.acquire() as conn:
        customer = await customer_queries.find_customer(conn, program_id, external_id)
    if customer is not None:
        principal.require_details(customer.program_id, customer.id)
    return customer


async def managed_customer(
    runtime: Runtime, principal: Principal, customer_id: int | None, *, live: bool = True
) -> Customer:
    """A customer the caller manages (ADMIN, or PARTNER of its program), for a mutation.

    UNKNOWN_CUSTOMER when there is none, or (with live) when it was erased.
    """
    principal.require_authenticated()
    unknown = DomainError("UNKNOWN_CUSTOMER", "no such customer", "customer_id")
    if customer_id is None:
        raise unknown
    async with runtime.pool.acquire() as conn:
        customer = await customer_queries.get_customer(conn, customer_id)
    if customer is None:
        raise unknown
    principal.require_manager(customer.program_id)
    if live and customer.erased:
        raise DomainError("UNKNOWN_CUSTOMER", "this customer was erased", "customer_id")
    return customer


async def get_customer(db: Reader, principal: Principal, customer_id: int) -> Customer | None:
    """A customer by id, if the caller may see more of it than its display name."""
    principal.require_authenticated()
    customer = await db.run(lambda conn: customer_queries.get_customer(conn, customer_id))
    if customer is not None:
        principal.require_details(customer.program_id, customer.id)
    return customer


async def viewer(
    principal: Principal, load: Callable[[int], Awaitable[Customer | None]]
) -> Customer | None:
    """A CUSTOMER token's own customer (None for other roles), read by `load`: the request's
    batch loader, which the token's check may have given it already."""
    principal.require_authenticated()
    if principal.role is not Role.CUSTOMER or principal.customer_id is None:
        return None
    customer = await load(principal.customer_id)
    if customer is not None:
        principal.require_details(customer.program_id, customer.id)
    return customer


async def load_customers(db: Reader, customer_ids: list[int]) -> list[Customer | None]:
    """Customers by id in the order asked (for batch loading; no rights are checked here)."""
    rows = await db.run(lambda conn: customer_queries.get_customers(conn, customer_ids))
    found = {c.id: c for c in rows}
    return [found.get(i) for i in customer_ids]


async def load_referrals(db: Reader, referee_ids: list[int]) -> list[Referral | None]:
    """Each referee's link (None for roots), in the order asked."""
    rows = await db.run(lambda conn: referral_queries.referrals_of_referees(conn, referee_ids))
    found = {r.referee_id: r for r in rows}
    return [found.get(i) for i in referee_ids]


async def load_codes(db: Reader, customer_ids: list[int]) -> list[list[ReferralCode]]:
    """Each customer's codes, oldest first, in the order asked."""
    codes = await db.run(lambda conn: code_queries.codes_of(conn, customer_ids))
    by_owner: dict[int, list[ReferralCode]] = {i: [] for i in customer_ids}
    for code in codes:
        by_owner[code.customer_id].append(code)
    return [by_owner[i] for i in customer_ids]


async def referrer_id(runtime: Runtime, principal: Principal, customer: Customer) -> int | None:
    """Who referred the customer (structural tree)."""
    principal.require_details(customer.program_id, customer.id)
    return (
        (await runtime.graphs.graph_with(customer.program_id, customer.id))
        .members[customer.id]
        .referrer
    )


async def ancestors(
    runtime: Runtime, principal: Principal, customer: Customer, max_depth: int
) -> list[int]:
    """The upline, nearest first, at most max_depth customers."""
    principal.require_details(customer.program_id, customer.id)
    check_depth(max_depth)
    return (await runtime.graphs.graph_with(customer.program_id, customer.id)).ancestors(
        customer.id, max_depth
    )


async def referees(
    runtime: Runtime, principal: Principal, customer: Customer, first: int, after: str | None
) -> Page[int]:
    """Direct referees, oldest first, one page."""
    principal.require_details(customer.program_id, customer.id)
    found = (await runtime.graphs.graph_with(customer.program_id, customer.id)).referees(
        customer.id
    )
    return paginate(found, lambda c: c, first, after)


async def downline(
    runtime: Runtime,
    principal: Principal,
    customer: Customer,
    max_depth: int,
    first: int,
    after: str | None,
) -> Page[DownlineEntry]:
    """Everyone below down to max_depth, breadth first, one page."""
    principal.require_details(customer.program_id, customer.id)
    check_depth(max_depth)
    entries = (await runtime.graphs.graph_with(customer.program_id, customer.id)).downline(
        customer.id, max_depth
    )
    return paginate(entries, lambda e: e.customer_id, first, after)


async def customer_stats(
    runtime: Runtime, principal: Principal, customer: Customer
) -> CustomerStats:
    """Every figure of CustomerStats, from the graph as it stands."""
    principal.require_details(customer.program_id, customer.id)
    graph = await runtime.graphs.graph_with(customer.program_id, customer.id)
    program = await runtime.graphs.program(customer.program_id)
    assert program is not None
    member = graph.members[customer.id]
    return CustomerStats(
        direct_referrals=graph.direct_referrals(customer.id),
        qualified_referrals=member.qualified_referrals,
        network_size=member.network_size,
        network_revenue=member.network_revenue,
        influence=member.influence,
        tier=tier_of(program, member).name,
        depth=graph.depth(customer.id),
    )
