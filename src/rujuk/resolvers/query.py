"""Root query fields."""

from __future__ import annotations

import strawberry

from rujuk import ids
from rujuk.schema.enums import Channel, InfluenceMetric
from rujuk.schema.types import (
    ApiToken,
    Customer,
    CustomerDataExport,
    Info,
    LeaderboardEntry,
    Node,
    Program,
    Purchase,
    Referral,
    ReferralCode,
    Reward,
    load_customers,
)
from rujuk.schema.webhooks import WebhookEndpoint
from rujuk.services import (
    customers,
    leaderboards,
    privacy,
    programs,
    referral_codes,
    referrals,
    rewards,
    tokens,
    webhooks,
)


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        ctx = info.context
        parsed = ids.from_global_id(id)
        ctx.principal.require_authenticated()
        if parsed is None:
            return None
        kind, number = parsed
        if kind == "Customer":
            customer = await customers.get_customer(ctx.db, ctx.principal, number)
            return None if customer is None else Customer.of(ctx.known_customer(customer))
        if kind == "Program":
            program = await programs.find_program(ctx.runtime, ctx.principal, number)
            return None if program is None else Program.of(program)
        if kind == "Purchase":
            purchase = await rewards.find_purchase(ctx.runtime, ctx.principal, number)
            return None if purchase is None else Purchase.of(purchase)
        if kind == "Reward":
            reward = await rewards.find_reward(ctx.runtime, ctx.principal, number)
            return None if reward is None else Reward.of(reward)
        if kind == "Referral":
            referral = await referrals.find_referral(ctx.runtime, ctx.principal, number)
            return None if referral is None else Referral.of(referral)
        return None

    @strawberry.field(description="A program's webhook endpoints (ADMIN or its PARTNER).")
    async def webhook_endpoints(
        self, info: Info, program_id: strawberry.ID
    ) -> list[WebhookEndpoint]:
        found = await webhooks.list_endpoints(
            info.context.runtime, info.context.principal, ids.local_id(program_id, "Program")
        )
        return [WebhookEndpoint.of(e) for e in found]

    @strawberry.field(description="One webhook endpoint, with its delivery log.")
    async def webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint | None:
        number = ids.local_id(id, "WebhookEndpoint")
        info.context.principal.require_authenticated()
        if number is None:
            return None
        found = await webhooks.find_endpoint(info.context.runtime, info.context.principal, number)
        return None if found is None else WebhookEndpoint.of(found)

    @strawberry.field
    async def program(self, info: Info, id: strawberry.ID) -> Program | None:
        ctx = info.context
        ctx.principal.require_authenticated()
        number = ids.local_id(id, "Program")
        if number is None:
            return None
        program = await programs.find_program(ctx.runtime, ctx.principal, number)
        return None if program is None else Program.of(program)

    @strawberry.field
    async def programs(self, info: Info) -> list[Program]:
        found = await programs.visible_programs(info.context.runtime, info.context.principal)
        return [Program.of(p) for p in found]

    @strawberry.field
    async def customer(
        self, info: Info, program_id: strawberry.ID, external_id: str
    ) -> Customer | None:
        ctx = info.context
        ctx.principal.require_authenticated()
        number = ids.local_id(program_id, "Program")
        if number is None:
            return None
        found = await customers.find_customer(ctx.runtime, ctx.principal, number, external_id)
        return None if found is None else Customer.of(ctx.known_customer(found))

    @strawberry.field(description="Public: lets a sign-up form check a code before submitting it.")
    async def referral_code(self, info: Info, code: str) -> ReferralCode | None:
        info.context.principal  # noqa: B018 - a bad token fails even public fields
        found = await referral_codes.look_up_code(info.context.runtime, code)
        return None if found is None else ReferralCode.of(found[0])

    @strawberry.field
    async def leaderboard(
        self,
        info: Info,
        program_id: strawberry.ID,
        metric: InfluenceMetric = InfluenceMetric.INFLUENCE,
        first: int = 10,
    ) -> list[LeaderboardEntry]:
        board = await leaderboards.leaderboard(
            info.context.runtime,
            info.context.principal,
            ids.local_id(program_id, "Program"),
            metric,
            first,
        )
        found = await load_customers(info, [customer for customer, _ in board.entries])
        return [
            LeaderboardEntry(
                rank=rank,
                customer=customer,
                score=score,
                computed_at=board.computed_at,
                stale=board.stale,
            )
            for rank, (customer, (_, score)) in enumerate(zip(found, board.entries, strict=True), 1)
        ]

    @strawberry.field(description="The customer behind a CUSTOMER token; null for other tokens.")
    async def viewer(self, info: Info) -> Customer | None:
        found = await customers.viewer(info.context.principal, info.context.customers.load)
        return None if found is None else Customer.of(found)

    @strawberry.field(
        description="ADMIN: every API token; PARTNER: its program's. Never the token or its hash."
    )
    async def api_tokens(self, info: Info) -> list[ApiToken]:
        found = await tokens.list_api_tokens(info.context.runtime, info.context.principal)
        return [ApiToken.of(t) for t in found]

    @strawberry.field(
        description="ADMIN only: all personal data held about a customer (the right of access)."
    )
    async def export_customer_data(
        self, info: Info, customer_id: strawberry.ID
    ) -> CustomerDataExport | None:
        found = await privacy.export_customer_data(
            info.context.runtime, info.context.principal, ids.local_id(customer_id, "Customer")
        )
        if found is None:
            return None
        customer = found.customer
        return CustomerDataExport(
            customer=Customer.of(customer),
            external_id=customer.external_id,
            display_name=customer.display_name,
            email=customer.email,
            phone=customer.phone,
            device_id=found.device_id,
            ip_address=found.ip_address,
            channel=Channel(customer.channel),
            joined_at=customer.joined_at,
            erased_at=customer.erased_at,
            referral=None if found.referral is None else Referral.of(found.referral),
            referral_codes=[ReferralCode.of(c) for c in found.codes],
            purchases=[Purchase.of(p) for p in found.purchases],
            rewards=[Reward.of(r) for r in found.rewards],
        )
