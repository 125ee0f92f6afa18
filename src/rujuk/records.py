"""The domain's records: plain frozen values read from and written to PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


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
