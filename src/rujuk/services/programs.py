"""Creating, changing and reading programs; the validity rules of a program's rules."""

from __future__ import annotations

import enum
import functools
import itertools
import re
import zoneinfo
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from rujuk.access import Principal
from rujuk.db import programs as program_queries
from rujuk.errors import DomainError, DomainErrors
from rujuk.graph.events import ProgramUpdated
from rujuk.graph.writes import UnknownProgram
from rujuk.money import amount_problem, written_decimals
from rujuk.records import MilestoneRule, Program, TierRule
from rujuk.services.runtime import Runtime
from rujuk.text import is_clean_text

MAX_LEVELS = 20
MAX_TIERS = 20
MAX_MILESTONES = 100
MAX_BLOCKED_DOMAINS = 1000
# Decimals a rate may be written with: far finer than any rate a shop means, and a bound on
# what PostgreSQL's numeric and the pricing arithmetic are handed ("1e-20000" is a rate too).
MAX_RATE_DECIMALS = 20
# Upper bounds that keep dates computable (joinedAt + window); not rules of the contract.
MAX_HOLD_DAYS = 3650
MAX_WINDOW_DAYS = 36500
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# A host name as DNS writes it (RFC 1123 labels), lower case; IDNs in their xn-- form.
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)

RULES = "INVALID_PROGRAM_RULES"


@dataclass(frozen=True, slots=True)
class ProgramDraft:
    """The rules of a program about to be created; the defaults are the contract's."""

    name: str
    currency: str
    tiers: tuple[TierRule, ...]
    max_payout_rate: Decimal
    referee_reward: Decimal
    hold_days: int
    compression: bool
    time_zone: str = "Asia/Jakarta"
    min_purchase_amount: Decimal = Decimal(0)
    commission_window_days: int | None = None
    commission_purchase_limit: int | None = None
    monthly_cap_per_referrer: Decimal | None = None
    milestones: tuple[MilestoneRule, ...] = ()
    blocked_email_domains: tuple[str, ...] = ()
    max_signups_per_ip_per_day: int = 10

    def rules(self) -> Program:
        """The draft as a program record (id 0 until stored)."""
        return Program(
            id=0,
            name=self.name,
            currency=self.currency,
            tiers=self.tiers,
            max_payout_rate=self.max_payout_rate,
            referee_reward=self.referee_reward,
            hold_days=self.hold_days,
            compression=self.compression,
            created_at=datetime.now(UTC),
            time_zone=self.time_zone,
            min_purchase_amount=self.min_purchase_amount,
            commission_window_days=self.commission_window_days,
            commission_purchase_limit=self.commission_purchase_limit,
            monthly_cap_per_referrer=self.monthly_cap_per_referrer,
            milestones=self.milestones,
            blocked_email_domains=self.blocked_email_domains,
            max_signups_per_ip_per_day=self.max_signups_per_ip_per_day,
        )


class Keep(enum.Enum):
    """An omitted field of updateProgram, where None means "remove the limit"."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True, slots=True)
class ProgramChanges:
    """What updateProgram was given: None (or KEEP, for the three fields where None removes
    a limit) keeps the field's value."""

    name: str | None = None
    active: bool | None = None
    tiers: tuple[TierRule, ...] | None = None
    max_payout_rate: Decimal | None = None
    referee_reward: Decimal | None = None
    hold_days: int | None = None
    compression: bool | None = None
    time_zone: str | None = None
    min_purchase_amount: Decimal | None = None
    commission_window_days: int | Literal[Keep.KEEP] | None = KEEP
    commission_purchase_limit: int | Literal[Keep.KEEP] | None = KEEP
    monthly_cap_per_referrer: Decimal | Literal[Keep.KEEP] | None = KEEP
    milestones: tuple[MilestoneRule, ...] | None = None
    blocked_email_domains: tuple[str, ...] | None = None
    max_signups_per_ip_per_day: int | None = None

    def applied_to(self, program: Program) -> Program:
        """The program with these changes (not validated; currency never changes)."""
        changed = program
        for field in (
            "name",
            "active",
            "tiers",
            "max_payout_rate",
            "referee_reward",
            "hold_days",
            "compression",
            "time_zone",
            "min_purchase_amount",
            "milestones",
            "blocked_email_domains",
            "max_signups_per_ip_per_day",
        ):
            value = getattr(self, field)
            if value is not None:
                changed = replace(changed, **{field: value})
        for field in ("commission_window_days", "commission_purchase_limit"):
            limit = getattr(self, field)
            if limit is not KEEP:
                changed = replace(changed, **{field: limit})
        if self.monthly_cap_per_referrer is not KEEP:
            changed = replace(changed, monthly_cap_per_referrer=self.monthly_cap_per_referrer)
        return changed


@functools.cache
def _time_zones() -> frozenset[str]:
    # Read once: the list is the tz database's, which changes with a dependency update.
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name: str) -> bool:
    """Whether the name is a zone of the IANA tz database, such as Asia/Jakarta."""
    return name in _time_zones()


class _Violations:
    """The errors found so far, the first one per field."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.errors: dict[tuple[str | int, ...], DomainError] = {}

    def bad(self, code: str, message: str, *field: str | int) -> None:
        self.errors.setdefault(field, DomainError(code, message, field))

    def money(
        self, name: str, amount: Decimal, *path: str | int, zero_allowed: bool = True
    ) -> None:
        """An amount of the rules, in the currency's decimals as written."""
        problem = amount_problem(amount, self.currency, zero_allowed=zero_allowed)
        if problem is not None:
            self.bad(RULES, f"{name} {problem}", *path)

    def rate(self, name: str, value: Decimal, *path: str | int, zero_allowed: bool) -> None:
        """A fraction: 0 (or just above it) to 1."""
        low = "0 or more" if zero_allowed else "above 0"
        if not value.is_finite() or value > 1 or value < 0 or (value == 0 and not zero_allowed):
            self.bad(RULES, f"{name} must be {low} and at most 1", *path)
        elif written_decimals(value) > MAX_RATE_DECIMALS:
            self.bad(RULES, f"{name} takes at most {MAX_RATE_DECIMALS} decimals", *path)


def rule_violations(program: Program) -> list[DomainError]:
    """Every way the program's rules break rewards.md's validity rules, one error per field
    at fault (empty when valid), each naming its field in Python ("tiers", 0, "level_rates")."""
    found = _Violations(program.currency)
    bad, money = found.bad, found.money
    if not is_clean_text(program.name, 200):
        bad("INVALID_INPUT", "name must be 1 to 200 characters without control characters", "name")
    if not _CURRENCY.match(program.currency):
        bad("INVALID_INPUT", "currency must be an ISO 4217 code such as IDR", "currency")
    _tier_violations(program.tiers, found)
    found.rate("maxPayoutRate", program.max_payout_rate, "max_payout_rate", zero_allowed=False)
    money("refereeReward", program.referee_reward, "referee_reward")
    if program.hold_days < 0:
        bad(RULES, "holdDays must be 0 or more", "hold_days")
    elif program.hold_days > MAX_HOLD_DAYS:
        bad("INVALID_INPUT", f"holdDays must be at most {MAX_HOLD_DAYS}", "hold_days")
    if not is_time_zone(program.time_zone):
        bad(RULES, "timeZone must be an IANA time zone name such as Asia/Jakarta", "time_zone")
    money("minPurchaseAmount", program.min_purchase_amount, "min_purchase_amount")
    window = program.commission_window_days
    if window is not None and window < 1:
        bad(RULES, "commissionWindowDays must be 1 or more (null: none)", "commission_window_days")
    elif window is not None and window > MAX_WINDOW_DAYS:
        bad(
            "INVALID_INPUT",
            f"commissionWindowDays must be at most {MAX_WINDOW_DAYS}",
            "commission_window_days",
        )
    limit = program.commission_purchase_limit
    if limit is not None and limit < 1:
        bad(
            RULES,
            "commissionPurchaseLimit must be 1 or more (null: no limit)",
            "commission_purchase_limit",
        )
    if program.monthly_cap_per_referrer is not None:
        money("monthlyCapPerReferrer", program.monthly_cap_per_referrer, "monthly_cap_per_referrer")
    _milestone_violations(program.milestones, found)
    _domain_violations(program.blocked_email_domains, found)
    if program.max_signups_per_ip_per_day < 1:
        bad(RULES, "maxSignupsPerIpPerDay must be 1 or more", "max_signups_per_ip_per_day")
    return list(found.errors.values())


def _tier_violations(tiers: tuple[TierRule, ...], found: _Violations) -> None:
    bad = found.bad
    if not tiers:
        bad(RULES, "a program needs at least one tier", "tiers")
    if len(tiers) > MAX_TIERS:
        bad(RULES, f"a program has at most {MAX_TIERS} tiers", "tiers")
    names = [t.name.strip() for t in tiers]
    if any(not is_clean_text(n, 100) for n in names) or len(set(names)) != len(names):
        bad(RULES, "tier names must be 1 to 100 plain characters and distinct", "tiers")
    if tiers and (tiers[0].min_qualified_referrals != 0 or tiers[0].min_network_revenue != 0):
        bad(RULES, "the first tier must have both thresholds 0", "tiers", 0)
    for i, (lower, upper) in enumerate(itertools.pairwise(tiers), start=1):
        if (
            upper.min_qualified_referrals < lower.min_qualified_referrals
            or upper.min_network_revenue < lower.min_network_revenue
        ):
            bad(RULES, "thresholds must never decrease down the list of tiers", "tiers", i)
    for i, tier in enumerate(tiers):
        at = ("tiers", i)
        if tier.min_qualified_referrals < 0:
            bad(RULES, "minQualifiedReferrals must be 0 or more", *at, "min_qualified_referrals")
        found.money("minNetworkRevenue", tier.min_network_revenue, *at, "min_network_revenue")
        if tier.levels > MAX_LEVELS:
            rates, amounts = len(tier.level_rates), len(tier.level_amounts)
            longer = "level_rates" if rates >= amounts else "level_amounts"
            bad(
                RULES,
                f"a tier has at most {MAX_LEVELS} levels (the longer of levelRates and"
                " levelAmounts)",
                *at,
                longer,
            )
        for k, level_rate in enumerate(tier.level_rates):
            found.rate(f"levelRates[{k}]", level_rate, *at, "level_rates", zero_allowed=True)
        for k, amount in enumerate(tier.level_amounts):
            found.money(f"levelAmounts[{k}]", amount, *at, "level_amounts")


def _milestone_violations(milestones: tuple[MilestoneRule, ...], found: _Violations) -> None:
    if len(milestones) > MAX_MILESTONES:
        found.bad(
            "INVALID_INPUT", f"a program has at most {MAX_MILESTONES} milestones", "milestones"
        )
    previous = 0
    for i, milestone in enumerate(milestones):
        at = ("milestones", i)
        threshold = milestone.qualified_referrals
        if threshold < 1:
            found.bad(RULES, "qualifiedReferrals must be 1 or more", *at, "qualified_referrals")
        elif threshold <= previous:
            found.bad(
                RULES,
                "milestone thresholds must be strictly increasing",
                *at,
                "qualified_referrals",
            )
        previous = max(previous, threshold)
        found.money("reward", milestone.reward, *at, "reward", zero_allowed=False)


def _domain_violations(domains: tuple[str, ...], found: _Violations) -> None:
    if len(domains) > MAX_BLOCKED_DOMAINS:
        found.bad(
            "INVALID_INPUT",
            f"a program blocks at most {MAX_BLOCKED_DOMAINS} domains",
            "blocked_email_domains",
        )
    for i, domain in enumerate(domains):
        if not _HOST_NAME.match(domain):
            found.bad(
                RULES,
                f"blockedEmailDomains[{i}] {domain!r} is not a lower-cased host name such as"
                " example.com (internationalized names in their xn-- form)",
                "blocked_email_domains",
            )


def _normalized(program: Program) -> Program:
    """Names as stored: without surrounding spaces."""
    return replace(
        program,
        name=program.name.strip(),
        tiers=tuple(replace(t, name=t.name.strip()) for t in program.tiers),
    )


def _checked(program: Program) -> Program:
    """The program's rules normalized, or every violation as one DomainErrors."""
    program = _normalized(program)
    violations = rule_violations(program)
    if violations:
        raise DomainErrors(violations)
    return program


async def create_program(runtime: Runtime, principal: Principal, draft: ProgramDraft) -> Program:
    """Create a program (ADMIN only) at rules version 1; DomainErrors when its rules are not
    valid."""
    principal.require_admin()
    rules = _checked(draft.rules())
    async with runtime.pool.acquire() as conn:
        program = await program_queries.insert_program(conn, rules)
    runtime.graphs.remember(program)
    return program


async def update_program(
    runtime: Runtime, principal: Principal, program_id: int | None, changes: ProgramChanges
) -> Program:
    """Change a program's rules (ADMIN, or PARTNER of the program), validated as a whole.

    A change of any value makes the next rules version: the program row, the version's
    document and a program_updated graph event commit together under the program's row
    lock, the lock every purchase takes, so each purchase is priced wholly under one
    version: the one before (it committed first) or this one (every worker applies the
    event before pricing against the graph version it brings). An update that changes no
    value writes nothing; an invalid one changes nothing.
    """
    principal.require_authenticated()
    if program_id is None:
        raise DomainError("UNKNOWN_PROGRAM", "no such program", "program_id")
    principal.require_manager(program_id)
    unknown = DomainError("UNKNOWN_PROGRAM", "no such program", "program_id")
    try:
        async with (
            runtime.pool.acquire() as conn,
            runtime.graph_writes.begin(conn, program_id) as uow,
        ):
            current = uow.program
            updated = _checked(changes.applied_to(current))
            if updated == current:  # decimals compare by value: "0.10" is "0.1"
                return current
            updated = replace(updated, rules_version=current.rules_version + 1)
            await program_queries.update_rules(conn, updated)
            await uow.append(ProgramUpdated(updated))
    except UnknownProgram:
        raise unknown from None
    return updated


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
