"""The contract's input types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from rujuk.schema.enums import Channel, CodeKind, ReviewDecision, TokenRole


@strawberry.input
class TierRuleInput:
    name: str
    level_rates: list[Decimal]
    min_qualified_referrals: int = 0
    min_network_revenue: Decimal = Decimal("0")
    level_amounts: list[Decimal] = strawberry.field(default_factory=list)


@strawberry.input
class MilestoneRuleInput:
    qualified_referrals: int
    reward: Decimal


@strawberry.input
class CreateProgramInput:
    name: str
    tiers: list[TierRuleInput]
    currency: str = "IDR"
    max_payout_rate: Decimal = Decimal("0.30")
    referee_reward: Decimal = Decimal("0")
    hold_days: int = 14
    compression: bool = False
    time_zone: str = "Asia/Jakarta"
    min_purchase_amount: Decimal = Decimal("0")
    commission_window_days: int | None = None
    commission_purchase_limit: int | None = None
    monthly_cap_per_referrer: Decimal | None = None
    milestones: list[MilestoneRuleInput] = strawberry.field(default_factory=list)
    blocked_email_domains: list[str] = strawberry.field(default_factory=list)
    max_signups_per_ip_per_day: int = 10


@strawberry.input(
    description="Every field but programId is optional: an omitted field keeps its value; for\n"
    "commissionWindowDays, commissionPurchaseLimit and monthlyCapPerReferrer an\n"
    "explicit null removes the limit. The result is validated as a whole."
)
class UpdateProgramInput:
    program_id: strawberry.ID
    name: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET
    tiers: list[TierRuleInput] | None = strawberry.UNSET
    max_payout_rate: Decimal | None = strawberry.UNSET
    referee_reward: Decimal | None = strawberry.UNSET
    hold_days: int | None = strawberry.UNSET
    compression: bool | None = strawberry.UNSET
    time_zone: str | None = strawberry.UNSET
    min_purchase_amount: Decimal | None = strawberry.UNSET
    commission_window_days: int | None = strawberry.UNSET
    commission_purchase_limit: int | None = strawberry.UNSET
    monthly_cap_per_referrer: Decimal | None = strawberry.UNSET
    milestones: list[MilestoneRuleInput] | None = strawberry.UNSET
    blocked_email_domains: list[str] | None = strawberry.UNSET
    max_signups_per_ip_per_day: int | None = strawberry.UNSET


@strawberry.input
class RegisterCustomerInput:
    program_id: strawberry.ID
    external_id: str = strawberry.field(
        description="The partner's own ID for this customer; unique within the program."
    )
    display_name: str
    email: str | None = None
    phone: str | None = None
    referral_code: str | None = strawberry.field(
        default=None, description="Optional: sign-up without a code makes a new root."
    )
    channel: Channel = Channel.DIRECT
    device_id: str | None = strawberry.field(
        default=None,
        description="An opaque device fingerprint from the partner, for fraud signals.",
    )
    ip_address: str | None = strawberry.field(
        default=None,
        description="The sign-up's client IP (IPv4 or IPv6), for fraud signals; erased with the "
        "customer.",
    )
    joined_at: datetime | None = None


@strawberry.input
class IssueReferralCodeInput:
    customer_id: strawberry.ID
    kind: CodeKind = CodeKind.MULTI_USE
    max_uses: int | None = None
    expires_at: datetime | None = None
    vanity: str | None = strawberry.field(
        default=None,
        description="A requested code such as ANDI2026; refused with INVALID_CODE when taken or "
        "malformed.",
    )


@strawberry.input
class RecordPurchaseInput:
    program_id: strawberry.ID
    customer_external_id: str
    order_id: str = strawberry.field(
        description="Idempotency key: the same orderId again returns the first result."
    )
    amount: Decimal
    occurred_at: datetime | None = None


@strawberry.input
class RefundPurchaseInput:
    program_id: strawberry.ID
    order_id: str
    refund_id: str = strawberry.field(
        description="Idempotency key of this refund: the same refundId again returns the first "
        "result unchanged."
    )
    amount: Decimal | None = strawberry.field(
        default=None, description="Omitted: refund whatever is left of the purchase."
    )


@strawberry.input
class SettleRewardsInput:
    program_id: strawberry.ID
    as_of: datetime | None = strawberry.field(
        default=None,
        description="Approve PENDING rewards whose availableAt is at or before this; default now.",
    )


@strawberry.input
class ReviewReferralInput:
    referral_id: strawberry.ID
    decision: ReviewDecision
    note: str | None = None


@strawberry.input
class EraseCustomerInput:
    customer_id: strawberry.ID


@strawberry.input
class CreateApiTokenInput:
    role: TokenRole
    label: str
    program_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for PARTNER."
    )


@strawberry.input
class RevokeApiTokenInput:
    id: strawberry.ID


@strawberry.input
class IssueCustomerTokenInput:
    customer_id: strawberry.ID
    ttl_seconds: int | None = strawberry.field(
        default=None, description="Lifetime in seconds; default 3600."
    )
