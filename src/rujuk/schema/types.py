"""The contract's object types; their field resolvers only translate to the domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from rujuk import ids, records
from rujuk.pagination import Page
from rujuk.schema.enums import Channel, CodeKind, ReferralStatus
from rujuk.services import customers as customer_service
from rujuk.services import referral_codes as code_service

from rujuk.resolvers.context import Context

Info = strawberry.Info[Context, None]


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

    @classmethod
    def of(cls, tier: records.TierRule) -> TierRule:
        return cls(
            name=tier.name,
            min_qualified_referrals=tier.min_qualified_referrals,
            min_network_revenue=tier.min_network_revenue,
            level_rates=list(tier.level_rates),
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
        )


@strawberry.type
class CustomerStats:
    direct_referrals: int
    depth: int = strawberry.field(description="0 for a customer nobody referred.")


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
            edges=[CustomerEdge(cursor=cursor, node=node) for (cursor, _), node in zip(page.items, nodes, strict=True)],
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
        found = await customer_service.tree_stats(
            info.context.runtime, info.context.principal, self.record
        )
        return CustomerStats(direct_referrals=found.direct_referrals, depth=found.depth)


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


def page_info(page: Page[Any]) -> PageInfo:
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
