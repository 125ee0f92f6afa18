"""The contract's object types; their field resolvers only translate to the domain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from rujuk import ids, records
from rujuk.pagination import Page, Slice
from rujuk.schema.context import Context
from rujuk.schema.enums import (
    Channel,
    CodeKind,
    ReferralStatus,
    RewardKind,
    RewardStatus,
    TokenRole,
)
from rujuk.services import customers as customer_service
from rujuk.services import program_lists as list_service
from rujuk.services import program_stats as stats_service
from rujuk.services import referral_codes as code_service
from rujuk.services import rewards as reward_service

Info = strawberry.Info[Context, None]
# How a connection counts its items, run only when totalCount is selected: a program-wide
# list can be long, and a page of it should cost an index scan of the page, not a count.
Count = Callable[[], Awaitable[int]]


def known_count(value: int) -> Count:
    """The Count of a total already read with the page."""

    async def count() -> int:
        return value

    return count


@strawberry.interface
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID; clients must not parse it.")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class TierRule:
    name: str
    min_qualified_referrals: int
    min_network_revenue: Decimal
    level_rates: list[Decimal] = strawberry.field(
        description="levelRates[0] is the rate for level 1 (own referees), [1] for level 2, ..."
    )
    level_amounts: list[Decimal] = strawberry.field(
        description="Flat amounts per level, added to the rate's reward: levelAmounts[0] for"
        " level 1, ..."
    )

    @classmethod
    def of(cls, tier: records.TierRule) -> TierRule:
        return cls(
            name=tier.name,
            min_qualified_referrals=tier.min_qualified_referrals,
            min_network_revenue=tier.min_network_revenue,
            level_rates=list(tier.level_rates),
            level_amounts=list(tier.level_amounts),
        )


@strawberry.type(
    description="A one-off bonus when a customer's qualifiedReferrals reaches qualifiedReferrals."
)
class MilestoneRule:
    qualified_referrals: int
    reward: Decimal

    @classmethod
    def of(cls, milestone: records.MilestoneRule) -> MilestoneRule:
        return cls(qualified_referrals=milestone.qualified_referrals, reward=milestone.reward)


@strawberry.type
class ChannelStats:
    channel: Channel
    referrals: int
    conversions: int
    revenue: Decimal


@strawberry.type
class ProgramStats:
    customers: int
    referred_customers: int
    qualified_referrals: int
    conversion_rate: float
    revenue: Decimal
    referred_revenue: Decimal
    reward_cost: Decimal
    roi: float | None
    k_factor: float
    by_channel: list[ChannelStats]


@strawberry.type
class LeaderboardEntry:
    rank: int
    customer: Customer
    score: float
    computed_at: datetime = strawberry.field(
        description="When the ranking behind this entry was computed."
    )
    stale: bool = strawberry.field(
        description="Whether the referral graph has changed since; a fresh ranking is on its way."
    )


@strawberry.type
class Program(Node):
    record: strawberry.Private[records.Program]
    name: str
    currency: str = strawberry.field(description="ISO 4217 code; IDR by default.")
    tiers: list[TierRule] = strawberry.field(
        description="Ordered from the entry tier (zero thresholds) upwards."
    )
    max_payout_rate: Decimal = strawberry.field(
        description="Cap on all commissions of one purchase, as a fraction of its net amount."
    )
    referee_reward: Decimal = strawberry.field(
        description="Fixed welcome reward for a referred customer's first purchase."
    )
    hold_days: int
    compression: bool = strawberry.field(
        description="Skip ineligible ancestors without using up a level."
    )
    created_at: datetime
    rules_version: int = strawberry.field(
        description="1 at creation; +1 for every updateProgram that changes the value of any field."
    )
    active: bool = strawberry.field(
        description="Paused programs record everything and pay nothing."
    )
    time_zone: str = strawberry.field(
        description="IANA zone whose calendar months the monthly cap counts; Asia/Jakarta by"
        " default."
    )
    min_purchase_amount: Decimal = strawberry.field(
        description="Purchases below this amount earn no reward of any kind."
    )
    commission_window_days: int | None = strawberry.field(
        description="Commissions only on purchases within this many days of the buyer joining;"
        " null: always."
    )
    commission_purchase_limit: int | None = strawberry.field(
        description="Commissions only on the buyer's first N eligible purchases; null: on every"
        " one."
    )
    monthly_cap_per_referrer: Decimal | None = strawberry.field(
        description="Most REFERRER_COMMISSION one beneficiary earns in a calendar month; null:"
        " no cap."
    )
    milestones: list[MilestoneRule] = strawberry.field(
        description="Ordered by qualifiedReferrals, ascending."
    )
    blocked_email_domains: list[str] = strawberry.field(
        description="Sign-ups with a code and an e-mail in these domains (or their subdomains)"
        " are refused."
    )
    max_signups_per_ip_per_day: int = strawberry.field(
        description="More sign-ups with a code than this from one IP address in 24 hours are"
        " FLAGGED (SHARED_IP)."
    )

    @strawberry.field
    async def stats(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> ProgramStats:
        found = await stats_service.program_stats(
            info.context.runtime, info.context.principal, self.record, from_, to
        )
        return ProgramStats(
            customers=found.customers,
            referred_customers=found.referred_customers,
            qualified_referrals=found.qualified_referrals,
            conversion_rate=found.conversion_rate,
            revenue=found.revenue,
            referred_revenue=found.referred_revenue,
            reward_cost=found.reward_cost,
            roi=found.roi,
            k_factor=found.k_factor,
            by_channel=[
                ChannelStats(
                    channel=Channel(c.channel),
                    referrals=c.referrals,
                    conversions=c.conversions,
                    revenue=c.revenue,
                )
                for c in found.by_channel
            ],
        )

    @strawberry.field(description="The review queue and program-wide lists: newest first.")
    async def referrals(
        self,
        info: Info,
        status: ReferralStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> ReferralConnection:
        runtime, principal = info.context.runtime, info.context.principal
        wanted = None if status is None else status.name
        page = await list_service.program_referrals(
            runtime, principal, self.record, wanted, first, after
        )
        return ReferralConnection(
            edges=[ReferralEdge(cursor=cursor, node=Referral.of(r)) for cursor, r in page.items],
            page_info=page_info(page),
            count=lambda: list_service.count_program_referrals(
                runtime, principal, self.record, wanted
            ),
        )

    @strawberry.field
    async def rewards(
        self,
        info: Info,
        status: RewardStatus | None = None,
        kind: RewardKind | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> RewardConnection:
        runtime, principal = info.context.runtime, info.context.principal
        wanted_status = None if status is None else status.name
        wanted_kind = None if kind is None else kind.name
        page = await list_service.program_rewards(
            runtime, principal, self.record, wanted_status, wanted_kind, first, after
        )
        return RewardConnection(
            edges=[RewardEdge(cursor=cursor, node=Reward.of(r)) for cursor, r in page.items],
            page_info=page_info(page),
            count=lambda: list_service.count_program_rewards(
                runtime, principal, self.record, wanted_status, wanted_kind
            ),
        )

    @classmethod
    def of(cls, program: records.Program) -> Program:
        return cls(
            id=strawberry.ID(ids.to_global_id("Program", program.id)),
            record=program,
            name=program.name,
            currency=program.currency,
            tiers=[TierRule.of(t) for t in program.tiers],
            max_payout_rate=program.max_payout_rate,
            referee_reward=program.referee_reward,
            hold_days=program.hold_days,
            compression=program.compression,
            created_at=program.created_at,
            rules_version=program.rules_version,
            active=program.active,
            time_zone=program.time_zone,
            min_purchase_amount=program.min_purchase_amount,
            commission_window_days=program.commission_window_days,
            commission_purchase_limit=program.commission_purchase_limit,
            monthly_cap_per_referrer=program.monthly_cap_per_referrer,
            milestones=[MilestoneRule.of(m) for m in program.milestones],
            blocked_email_domains=list(program.blocked_email_domains),
            max_signups_per_ip_per_day=program.max_signups_per_ip_per_day,
        )


@strawberry.type
class CustomerStats:
    direct_referrals: int
    qualified_referrals: int
    network_size: int
    network_revenue: Decimal
    influence: float
    tier: str = strawberry.field(description="Name of the tier the customer holds now.")
    depth: int = strawberry.field(description="0 for a customer nobody referred.")


@strawberry.type
class RewardBalance:
    pending: Decimal
    approved: Decimal
    reversed: Decimal


@strawberry.type
class Purchase(Node):
    record: strawberry.Private[records.Purchase]
    order_id: str
    amount: Decimal
    refunded_amount: Decimal
    occurred_at: datetime
    rules_version: int = strawberry.field(
        description="The program's rulesVersion this purchase was priced under."
    )
    eligible: bool = strawberry.field(
        description="Active program and amount >= minPurchaseAmount when recorded."
    )

    @classmethod
    def of(cls, purchase: records.Purchase) -> Purchase:
        return cls(
            id=strawberry.ID(ids.to_global_id("Purchase", purchase.id)),
            record=purchase,
            order_id=purchase.order_id,
            amount=purchase.amount,
            refunded_amount=purchase.refunded_amount,
            occurred_at=purchase.occurred_at,
            rules_version=purchase.rules_version,
            eligible=purchase.eligible,
        )

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await load_customer(info, self.record.customer_id)

    @strawberry.field
    async def rewards(self, info: Info) -> list[Reward]:
        found = await info.context.purchase_rewards.load(self.record.id)
        return [Reward.of(r) for r in reward_service.visible_rewards(info.context.principal, found)]


@strawberry.type
class Reward(Node):
    record: strawberry.Private[records.Reward]
    kind: RewardKind
    level: int = strawberry.field(
        description="0 for REFEREE_WELCOME and MILESTONE_BONUS, k for the k-th ancestor."
    )
    milestone: int | None = strawberry.field(
        description="The qualifiedReferrals threshold of a MILESTONE_BONUS; null for other kinds."
    )
    rate: Decimal | None = strawberry.field(
        description="The level rate applied (0 at a level that pays only a flat amount); null"
        " for REFEREE_WELCOME and MILESTONE_BONUS."
    )
    tier: str | None = strawberry.field(
        description="Tier the beneficiary held when the purchase was made."
    )
    amount: Decimal = strawberry.field(
        description="Current amount after any refunds of the purchase."
    )
    status: RewardStatus
    created_at: datetime
    available_at: datetime

    @classmethod
    def of(cls, reward: records.Reward) -> Reward:
        return cls(
            id=strawberry.ID(ids.to_global_id("Reward", reward.id)),
            record=reward,
            kind=RewardKind(reward.kind),
            level=reward.level,
            milestone=reward.milestone,
            rate=reward.rate,
            tier=reward.tier,
            amount=reward.amount,
            status=RewardStatus(reward.status),
            created_at=reward.created_at,
            available_at=reward.available_at,
        )

    @strawberry.field
    async def beneficiary(self, info: Info) -> Customer:
        return await load_customer(info, self.record.beneficiary_id)

    @strawberry.field
    async def purchase(self, info: Info) -> Purchase:
        found = await info.context.purchases.load(self.record.purchase_id)
        assert found is not None  # a reward's purchase always exists
        return Purchase.of(found)


@strawberry.type
class RewardEdge:
    cursor: str
    node: Reward


@strawberry.type
class RewardConnection:
    edges: list[RewardEdge]
    page_info: PageInfo
    count: strawberry.Private[Count]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.count()


@strawberry.type
class ReferralCode:
    record: strawberry.Private[records.ReferralCode]
    code: str
    kind: CodeKind
    uses: int
    max_uses: int | None
    expires_at: datetime | None

    @classmethod
    def of(cls, code: records.ReferralCode) -> ReferralCode:
        return cls(
            record=code,
            code=code.code,
            kind=CodeKind(code.kind),
            uses=code.uses,
            max_uses=code.max_uses,
            expires_at=code.expires_at,
        )

    @strawberry.field
    async def owner(self, info: Info) -> Customer:
        return await load_customer(info, self.record.customer_id)

    @strawberry.field(description="Whether a new customer can use it right now.")
    async def active(self, info: Info) -> bool:
        owner = await info.context.customers.load(self.record.customer_id)
        return code_service.is_active(self.record, owner is None or owner.erased)


@strawberry.type
class Referral(Node):
    record: strawberry.Private[records.Referral]
    code: str
    channel: Channel
    status: ReferralStatus
    fraud_signals: list[str] = strawberry.field(
        description="Why it was flagged, e.g. VELOCITY, SHARED_DEVICE; empty when clean."
    )
    created_at: datetime

    @classmethod
    def of(cls, referral: records.Referral) -> Referral:
        return cls(
            id=strawberry.ID(ids.to_global_id("Referral", referral.id)),
            record=referral,
            code=referral.code,
            channel=Channel(referral.channel),
            status=ReferralStatus(referral.status),
            fraud_signals=list(referral.fraud_signals),
            created_at=referral.created_at,
        )

    @strawberry.field
    async def referrer(self, info: Info) -> Customer:
        return await load_customer(info, self.record.referrer_id)

    @strawberry.field
    async def referee(self, info: Info) -> Customer:
        return await load_customer(info, self.record.referee_id)


@strawberry.type
class ReferralEdge:
    cursor: str
    node: Referral


@strawberry.type
class ReferralConnection:
    edges: list[ReferralEdge]
    page_info: PageInfo
    count: strawberry.Private[Count]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.count()


@strawberry.type
class Customer(Node):
    record: strawberry.Private[records.Customer]
    display_name: str

    @classmethod
    def of(cls, customer: records.Customer) -> Customer:
        return cls(
            id=strawberry.ID(ids.to_global_id("Customer", customer.id)),
            record=customer,
            display_name=customer.display_name,
        )

    def _details(self, info: Info) -> records.Customer:
        info.context.principal.require_details(self.record.program_id, self.record.id)
        return self.record

    @strawberry.field
    def external_id(self, info: Info) -> str:
        return self._details(info).external_id

    @strawberry.field(description="Visible to ADMIN and PARTNER tokens; null for others.")
    def email(self, info: Info) -> str | None:
        return self.record.email if info.context.principal.manages(self.record.program_id) else None

    @strawberry.field(description="Visible to ADMIN and PARTNER tokens; null for others.")
    def phone(self, info: Info) -> str | None:
        return self.record.phone if info.context.principal.manages(self.record.program_id) else None

    @strawberry.field
    def channel(self, info: Info) -> Channel:
        return Channel(self._details(info).channel)

    @strawberry.field
    def joined_at(self, info: Info) -> datetime:
        return self._details(info).joined_at

    @strawberry.field
    async def program(self, info: Info) -> Program:
        program = await info.context.programs.load(self._details(info).program_id)
        assert program is not None  # a customer's program always exists
        return Program.of(program)

    @strawberry.field
    async def referral_codes(self, info: Info) -> list[ReferralCode]:
        codes = await info.context.codes.load(self._details(info).id)
        return [ReferralCode.of(c) for c in codes]

    @strawberry.field
    async def referrer(self, info: Info) -> Customer | None:
        referrer = await customer_service.referrer_id(
            info.context.runtime, info.context.principal, self.record
        )
        return None if referrer is None else await load_customer(info, referrer)

    @strawberry.field
    async def referral(self, info: Info) -> Referral | None:
        link = await info.context.referrals.load(self._details(info).id)
        return None if link is None else Referral.of(link)

    @strawberry.field(description="Nearest first: the referrer, then the referrer's referrer, ...")
    async def ancestors(self, info: Info, max_depth: int = 10) -> list[Customer]:
        found = await customer_service.ancestors(
            info.context.runtime, info.context.principal, self.record, max_depth
        )
        return await load_customers(info, found)

    @strawberry.field(description="Direct referees, oldest first.")
    async def referrals(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> CustomerConnection:
        page = await customer_service.referees(
            info.context.runtime, info.context.principal, self.record, first, after
        )
        nodes = await load_customers(info, [c for _, c in page.items])
        return CustomerConnection(
            edges=[
                CustomerEdge(cursor=cursor, node=node)
                for (cursor, _), node in zip(page.items, nodes, strict=True)
            ],
            page_info=page_info(page),
            total_count=page.total_count,
        )

    @strawberry.field(
        description="Everyone below, breadth first (by depth, then join time), down to maxDepth."
    )
    async def downline(
        self, info: Info, max_depth: int = 3, first: int = 100, after: str | None = None
    ) -> DownlineConnection:
        page = await customer_service.downline(
            info.context.runtime, info.context.principal, self.record, max_depth, first, after
        )
        nodes = await load_customers(info, [e.customer_id for _, e in page.items])
        return DownlineConnection(
            edges=[
                DownlineEdge(
                    cursor=cursor,
                    node=node,
                    depth=entry.depth,
                    parent_id=strawberry.ID(ids.to_global_id("Customer", entry.parent_id)),
                )
                for (cursor, entry), node in zip(page.items, nodes, strict=True)
            ],
            page_info=page_info(page),
            total_count=page.total_count,
        )

    @strawberry.field
    async def stats(self, info: Info) -> CustomerStats:
        found = await customer_service.customer_stats(
            info.context.runtime, info.context.principal, self.record
        )
        return CustomerStats(
            direct_referrals=found.direct_referrals,
            qualified_referrals=found.qualified_referrals,
            network_size=found.network_size,
            network_revenue=found.network_revenue,
            influence=found.influence,
            tier=found.tier,
            depth=found.depth,
        )

    @strawberry.field
    async def rewards(
        self,
        info: Info,
        status: RewardStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> RewardConnection:
        page = await reward_service.customer_rewards(
            info.context.db,
            info.context.principal,
            self.record,
            None if status is None else status.value,
            first,
            after,
        )
        return RewardConnection(
            edges=[RewardEdge(cursor=cursor, node=Reward.of(r)) for cursor, r in page.items],
            page_info=page_info(page),
            count=known_count(page.total_count),
        )

    @strawberry.field
    async def balance(self, info: Info) -> RewardBalance:
        found = await info.context.balances.load(self._details(info).id)
        return RewardBalance(
            pending=found.pending, approved=found.approved, reversed=found.reversed
        )


@strawberry.type
class CustomerEdge:
    cursor: str
    node: Customer


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class DownlineEdge:
    cursor: str
    node: Customer
    depth: int = strawberry.field(description="1 for direct referees.")
    parent_id: strawberry.ID


@strawberry.type
class DownlineConnection:
    edges: list[DownlineEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(
    description="A stored ADMIN or PARTNER token; the token itself is never shown again."
)
class ApiToken:
    id: strawberry.ID
    role: TokenRole
    program_id: strawberry.ID | None
    label: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: records.ApiToken) -> ApiToken:
        return cls(
            id=strawberry.ID(ids.to_global_id("ApiToken", token.id)),
            role=TokenRole(token.role),
            program_id=None
            if token.program_id is None
            else strawberry.ID(ids.to_global_id("Program", token.program_id)),
            label=token.label,
            created_at=token.created_at,
            revoked_at=token.revoked_at,
        )


@strawberry.type(description="All personal data rujuk holds about one customer (right of access).")
class CustomerDataExport:
    customer: Customer
    external_id: str
    display_name: str
    email: str | None
    phone: str | None
    device_id: str | None
    ip_address: str | None = strawberry.field(
        description="The sign-up's client IP as the partner sent it (RegisterCustomerInput)."
    )
    channel: Channel
    joined_at: datetime
    erased_at: datetime | None
    referral: Referral | None = strawberry.field(
        description="The link through which the customer joined; null for a root."
    )
    referral_codes: list[ReferralCode]
    purchases: list[Purchase]
    rewards: list[Reward]


def page_info(page: Page[Any] | Slice[Any]) -> PageInfo:
    """The PageInfo of a domain page."""
    return PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor)


async def load_customer(info: Info, customer_id: int) -> Customer:
    """A customer that must exist (it is referenced by the tree or a code)."""
    customer = await info.context.customers.load(customer_id)
    assert customer is not None, f"customer {customer_id} is referenced but missing"
    return Customer.of(customer)


async def load_customers(info: Info, customer_ids: list[int]) -> list[Customer]:
    """Customers that must exist, in one batch."""
    found = await info.context.customers.load_many(customer_ids)
    missing = [i for i, c in zip(customer_ids, found, strict=True) if c is None]
    assert not missing, f"customers {missing} are referenced but missing"
    return [Customer.of(c) for c in found if c is not None]
