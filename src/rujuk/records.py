"""The domain's records: plain frozen values read from and written to PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class TierRule:
    """One tier: its thresholds and the rate it pays per level (index 0 = level 1)."""

    name: str
    min_qualified_referrals: int
    min_network_revenue: Decimal
    level_rates: tuple[Decimal, ...]
    # Flat amounts per level, added to the rate's reward (index 0 = level 1).
    level_amounts: tuple[Decimal, ...] = ()

    @property
    def levels(self) -> int:
        """How many levels the tier pays: the longer of its rates and its amounts."""
        return max(len(self.level_rates), len(self.level_amounts))


@dataclass(frozen=True, slots=True)
class MilestoneRule:
    """A one-off bonus when a customer's qualified referrals reach a threshold."""

    qualified_referrals: int
    reward: Decimal


@dataclass(frozen=True, slots=True)
class Program:
    """A referral program and its reward rules."""

    id: int
    name: str
    currency: str
    tiers: tuple[TierRule, ...]
    max_payout_rate: Decimal
    referee_reward: Decimal
    hold_days: int
    compression: bool
    created_at: datetime
    # Contract v2 (rewards.md, "Rule versions"): the defaults are a version-1 program's.
    rules_version: int = 1
    active: bool = True
    time_zone: str = "Asia/Jakarta"
    min_purchase_amount: Decimal = Decimal(0)
    commission_window_days: int | None = None
    commission_purchase_limit: int | None = None
    monthly_cap_per_referrer: Decimal | None = None
    milestones: tuple[MilestoneRule, ...] = ()
    blocked_email_domains: tuple[str, ...] = ()
    max_signups_per_ip_per_day: int = 10

    @property
    def max_levels(self) -> int:
        """The most levels any tier pays: no ancestor above it earns."""
        return max(t.levels for t in self.tiers)


def rules_to_json(program: Program) -> dict[str, Any]:
    """Every rule of a program as one JSON document: a version's rules as program_rules
    stores them and the program_updated graph event carries them. Names as in the
    contract, decimals as strings written as given (exact)."""
    return {
        "name": program.name,
        "currency": program.currency,
        "active": program.active,
        "tiers": [
            {
                "name": t.name,
                "minQualifiedReferrals": t.min_qualified_referrals,
                "minNetworkRevenue": str(t.min_network_revenue),
                "levelRates": [str(r) for r in t.level_rates],
                "levelAmounts": [str(a) for a in t.level_amounts],
            }
            for t in program.tiers
        ],
        "maxPayoutRate": str(program.max_payout_rate),
        "refereeReward": str(program.referee_reward),
        "holdDays": program.hold_days,
        "compression": program.compression,
        "timeZone": program.time_zone,
        "minPurchaseAmount": str(program.min_purchase_amount),
        "commissionWindowDays": program.commission_window_days,
        "commissionPurchaseLimit": program.commission_purchase_limit,
        "monthlyCapPerReferrer": (
            None
            if program.monthly_cap_per_referrer is None
            else str(program.monthly_cap_per_referrer)
        ),
        "milestones": [
            {"qualifiedReferrals": m.qualified_referrals, "reward": str(m.reward)}
            for m in program.milestones
        ],
        "blockedEmailDomains": list(program.blocked_email_domains),
        "maxSignupsPerIpPerDay": program.max_signups_per_ip_per_day,
    }


def tiers_of_json(stored: list[dict[str, Any]]) -> tuple[TierRule, ...]:
    """Tiers as rules_to_json writes them (version 1's, without levelAmounts, too)."""
    return tuple(
        TierRule(
            name=t["name"],
            min_qualified_referrals=t["minQualifiedReferrals"],
            min_network_revenue=Decimal(t["minNetworkRevenue"]),
            level_rates=tuple(Decimal(r) for r in t["levelRates"]),
            level_amounts=tuple(Decimal(a) for a in t.get("levelAmounts", ())),
        )
        for t in stored
    )


def milestones_of_json(stored: list[dict[str, Any]]) -> tuple[MilestoneRule, ...]:
    """Milestones as rules_to_json writes them."""
    return tuple(MilestoneRule(m["qualifiedReferrals"], Decimal(m["reward"])) for m in stored)


def program_of_rules(
    program_id: int, created_at: datetime, rules_version: int, rules: dict[str, Any]
) -> Program:
    """The program as one version's rules document (rules_to_json) describes it."""
    cap = rules["monthlyCapPerReferrer"]
    return Program(
        id=program_id,
        name=rules["name"],
        currency=rules["currency"],
        tiers=tiers_of_json(rules["tiers"]),
        max_payout_rate=Decimal(rules["maxPayoutRate"]),
        referee_reward=Decimal(rules["refereeReward"]),
        hold_days=rules["holdDays"],
        compression=rules["compression"],
        created_at=created_at,
        rules_version=rules_version,
        active=rules["active"],
        time_zone=rules["timeZone"],
        min_purchase_amount=Decimal(rules["minPurchaseAmount"]),
        commission_window_days=rules["commissionWindowDays"],
        commission_purchase_limit=rules["commissionPurchaseLimit"],
        monthly_cap_per_referrer=None if cap is None else Decimal(cap),
        milestones=milestones_of_json(rules["milestones"]),
        blocked_email_domains=tuple(rules["blockedEmailDomains"]),
        max_signups_per_ip_per_day=rules["maxSignupsPerIpPerDay"],
    )


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer of one program."""

    id: int
    program_id: int
    external_id: str
    display_name: str
    email: str | None
    phone: str | None
    channel: str
    joined_at: datetime
    erased_at: datetime | None

    @property
    def erased(self) -> bool:
        """Whether the customer's personal data was erased on request."""
        return self.erased_at is not None


@dataclass(frozen=True, slots=True)
class ReferralCode:
    """A code a customer shares; new customers sign up with it."""

    code: str
    program_id: int
    customer_id: int
    kind: str
    max_uses: int | None
    uses: int
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Referral:
    """The link from a referee up to its referrer."""

    id: int
    program_id: int
    referee_id: int
    referrer_id: int
    code: str
    channel: str
    status: str
    fraud_signals: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored ADMIN or PARTNER token (only its hash is kept)."""

    id: int
    role: str
    program_id: int | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Purchase:
    """A customer's purchase; its net amount is amount - refunded_amount."""

    id: int
    program_id: int
    customer_id: int
    order_id: str
    amount: Decimal
    refunded_amount: Decimal
    occurred_at: datetime
    # The program's rules version it was priced under (refunds use that version's rules).
    rules_version: int
    # Whether the program was active and the amount at least its minimum when recorded.
    eligible: bool

    @property
    def net_amount(self) -> Decimal:
        """What is left after refunds."""
        return self.amount - self.refunded_amount


@dataclass(frozen=True, slots=True)
class Reward:
    """A reward of the ledger, as it stands now."""

    id: int
    program_id: int
    purchase_id: int
    beneficiary_id: int
    kind: str
    level: int
    rate: Decimal | None
    tier: str | None
    first_amount: Decimal
    amount: Decimal
    status: str
    created_at: datetime
    available_at: datetime
    path: tuple[int, ...]
    # The qualifiedReferrals threshold a MILESTONE_BONUS was paid for; None for other kinds.
    milestone: int | None = None


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where a program's events are sent, and which of them."""

    id: int
    program_id: int
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    failing_since: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event of the outbox: its type and the exact JSON body that is signed and sent."""

    id: int
    program_id: int
    type: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One try at delivering an event to an endpoint."""

    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """An event on its way to one endpoint."""

    id: int
    event_id: int
    endpoint_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    created_at: datetime
    delivered_at: datetime | None
