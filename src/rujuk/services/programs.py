"""Creating and reading programs; the validity rules of a program's reward rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from rujuk.access import Principal
from rujuk.db import programs as program_queries
from rujuk.errors import DomainError
from rujuk.money import amount_problem
from rujuk.records import Program, TierRule
from rujuk.services.runtime import Runtime
from rujuk.text import is_clean_text

MAX_LEVELS = 20
MAX_TIERS = 20
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class ProgramDraft:
    """The rules of a program about to be created."""

    name: str
    currency: str
    tiers: tuple[TierRule, ...]
    max_payout_rate: Decimal
    referee_reward: Decimal
    hold_days: int
    compression: bool


def rule_violations(draft: ProgramDraft) -> list[DomainError]:
    """Every way the draft breaks rewards.md's validity rules (empty when valid)."""
    errors: list[DomainError] = []

    def bad(code: str, message: str, *field: str | int) -> None:
        errors.append(DomainError(code, message, field))

    def money(label: str, amount: Decimal, *field: str | int) -> None:
        """An amount of the rules: 0 or more, in the currency's decimals as written (label:
        its name in the message)."""
        problem = amount_problem(amount, draft.currency, zero_allowed=True)
        if problem is not None:
            bad("INVALID_PROGRAM_RULES", f"{label} {problem}", *field)

    if not is_clean_text(draft.name, 200):
        bad("INVALID_INPUT", "name must be 1 to 200 characters without control characters", "name")
    if not _CURRENCY.match(draft.currency):
        bad("INVALID_INPUT", "currency must be an ISO 4217 code such as IDR", "currency")
    rules = "INVALID_PROGRAM_RULES"
    if not draft.tiers:
        bad(rules, "a program needs at least one tier", "tiers")
    if len(draft.tiers) > MAX_TIERS:
        bad(rules, f"a program has at most {MAX_TIERS} tiers", "tiers")
    names = [t.name.strip() for t in draft.tiers]
    if any(not is_clean_text(n, 100) for n in names) or len(set(names)) != len(names):
        bad(rules, "tier names must be 1 to 100 plain characters and distinct", "tiers")
    if draft.tiers and (
        draft.tiers[0].min_qualified_referrals != 0 or draft.tiers[0].min_network_revenue != 0
    ):
        bad(rules, "the first tier must have both thresholds 0", "tiers", 0)
    for i, (lower, upper) in enumerate(zip(draft.tiers, draft.tiers[1:], strict=False), start=1):
        if (
            upper.min_qualified_referrals < lower.min_qualified_referrals
            or upper.min_network_revenue < lower.min_network_revenue
        ):
            bad(rules, "thresholds must never decrease down the list of tiers", "tiers", i)
    for i, tier in enumerate(draft.tiers):
        if tier.min_qualified_referrals < 0:
            bad(rules, "thresholds must be 0 or more", "tiers", i)
        money("minNetworkRevenue", tier.min_network_revenue, "tiers", i, "min_network_revenue")
        if len(tier.level_rates) > MAX_LEVELS:
            bad(rules, f"a tier has at most {MAX_LEVELS} levels", "tiers", i, "level_rates")
        if any(not (r.is_finite() and 0 <= r <= 1) for r in tier.level_rates):
            bad(rules, "every level rate must be between 0 and 1", "tiers", i, "level_rates")
    if not (draft.max_payout_rate.is_finite() and 0 < draft.max_payout_rate <= 1):
        bad(rules, "maxPayoutRate must be above 0 and at most 1", "max_payout_rate")
    money("refereeReward", draft.referee_reward, "referee_reward")
    if draft.hold_days < 0:
        bad(rules, "holdDays must be 0 or more", "hold_days")
    if draft.hold_days > 3650:
        bad("INVALID_INPUT", "holdDays must be at most 3650", "hold_days")
    return errors


async def create_program(runtime: Runtime, principal: Principal, draft: ProgramDraft) -> Program:
    """Create a program (ADMIN only); raise the first rule violation as a DomainError."""
    principal.require_admin()
    violations = rule_violations(draft)
    if violations:
        raise violations[0]
    async with runtime.pool.acquire() as conn:
        program = await program_queries.insert_program(
            conn,
            name=draft.name.strip(),
            currency=draft.currency,
            tiers=tuple(
                TierRule(
                    t.name.strip(), t.min_qualified_referrals, t.min_network_revenue, t.level_rates
                )
                for t in draft.tiers
            ),
            max_payout_rate=draft.max_payout_rate,
            referee_reward=draft.referee_reward,
            hold_days=draft.hold_days,
            compression=draft.compression,
        )
    runtime.graphs.programs[program.id] = program
    return program


async def visible_programs(runtime: Runtime, principal: Principal) -> list[Program]:
    """ADMIN sees every program; a PARTNER or CUSTOMER token, its own."""
    principal.require_authenticated()
    async with runtime.pool.acquire() as conn:
        if principal.is_admin:
            return await program_queries.list_programs(conn)
        assert principal.program_id is not None
        return await program_queries.list_programs(conn, [principal.program_id])


async def find_program(runtime: Runtime, principal: Principal, program_id: int) -> Program | None:
    """One program the caller may read; None when it does not exist."""
    principal.require_authenticated()
    async with runtime.pool.acquire() as conn:
        program = await program_queries.get_program(conn, program_id)
    if program is not None:
        principal.require_reader(program.id)
    return program


async def load_programs(runtime: Runtime, program_ids: list[int]) -> list[Program | None]:
    """Programs by id in the order asked (for batch loading; no rights are checked here)."""
    async with runtime.pool.acquire() as conn:
        found = {p.id: p for p in await program_queries.list_programs(conn, program_ids)}
    return [found.get(i) for i in program_ids]
