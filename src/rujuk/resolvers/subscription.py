"""Root subscription fields (graphql-transport-ws on /graphql)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from rujuk import ids
from rujuk.schema.types import Info, Referral, Reward
from rujuk.services import notifications


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="customerId omitted: every reward in the program (ADMIN/PARTNER)."
    )
    async def reward_earned(
        self, info: Info, program_id: strawberry.ID, customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Reward, None]:
        customer = None
        if customer_id is not None:
            customer = ids.local_id(customer_id, "Customer") or 0
        stream = notifications.rewards_earned(
            info.context.runtime,
            info.context.principal,
            ids.local_id(program_id, "Program"),
            customer,
        )
        async for reward in stream:
            yield Reward.of(reward)

    @strawberry.subscription
    async def referral_created(
        self, info: Info, program_id: strawberry.ID
    ) -> AsyncGenerator[Referral, None]:
        stream = notifications.referrals_created(
            info.context.runtime, info.context.principal, ids.local_id(program_id, "Program")
        )
        async for referral in stream:
            yield Referral.of(referral)
