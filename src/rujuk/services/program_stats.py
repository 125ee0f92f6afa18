"""Program.stats: growth, revenue and reward cost over a time range (rewards.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rujuk.access import Principal
from rujuk.db import stats as stats_queries
from rujuk.db.stats import ChannelRow
from rujuk.errors import RequestError
from rujuk.records import Program
from rujuk.services.runtime import Runtime


@dataclass(frozen=True, slots=True)
class ProgramStats:
    """Every figure of ProgramStats."""

    customers: int
    referred_customers: int
    qualified_referrals: int
    conversion_rate: float
    revenue: Decimal
    referred_revenue: Decimal
    reward_cost: Decimal
    roi: float | None
    k_factor: float
    by_channel: list[ChannelRow]


async def program_stats(
    runtime: Runtime,
    principal: Principal,
    program: Program,
    start: datetime | None,
    end: datetime | None,
) -> ProgramStats:
    """The program's figures over [start, end); a missing bound is open."""
    principal.require_manager(program.id)
    if start is not None and end is not None and end < start:
        raise RequestError("`to` must not be before `from`", "INVALID_INPUT")
    row = await stats_queries.program_stats(runtime.pool, program.id, start, end)
    return ProgramStats(
        customers=row.customers,
        referred_customers=row.referred_customers,
        qualified_referrals=row.qualified_referrals,
        conversion_rate=(
            row.qualified_referrals / row.referred_customers if row.referred_customers else 0.0
        ),
        revenue=row.revenue,
        referred_revenue=row.referred_revenue,
        reward_cost=row.reward_cost,
        roi=(
            float((row.referred_revenue - row.reward_cost) / row.reward_cost)
            if row.reward_cost
            else None
        ),
        k_factor=row.referred_customers / row.customers if row.customers else 0.0,
        by_channel=row.channels,
    )
