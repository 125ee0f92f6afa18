"""The per-request context: the runtime, the caller, and batch loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from rujuk.access import Principal, Role
from rujuk.errors import RequestError
from rujuk.rate_limit import RateLimiter
from rujuk.records import Customer, Program, Purchase, Referral, ReferralCode, Reward
from rujuk.runtime import Runtime
from rujuk.services import customers, programs, rewards


@dataclass
class Context:
    """What every resolver of one request shares."""

    runtime: Runtime
    request: Request | WebSocket
    caller: Principal | RequestError
    response: Any = None
    request_id: str = "-"
    # graphql-transport-ws: the connection_init payload, set by strawberry.
    connection_params: dict[str, Any] | None = None
    # The worker's rate limiter (None: unlimited), shared by every request of the process.
    rate_limiter: RateLimiter | None = None
    customers: DataLoader[int, Customer | None] = field(init=False)
    referrals: DataLoader[int, Referral | None] = field(init=False)
    codes: DataLoader[int, list[ReferralCode]] = field(init=False)
    programs: DataLoader[int, Program | None] = field(init=False)
    purchases: DataLoader[int, Purchase | None] = field(init=False)
    purchase_rewards: DataLoader[int, list[Reward]] = field(init=False)
    balances: DataLoader[int, rewards.Balance] = field(init=False)

    def __post_init__(self) -> None:
        runtime = self.runtime

        async def load_customers(ids: list[int]) -> list[Customer | None]:
            return await customers.load_customers(runtime, ids)

        async def load_referrals(ids: list[int]) -> list[Referral | None]:
            return await customers.load_referrals(runtime, ids)

        async def load_codes(ids: list[int]) -> list[list[ReferralCode]]:
            return await customers.load_codes(runtime, ids)

        async def load_programs(ids: list[int]) -> list[Program | None]:
            return await programs.load_programs(runtime, ids)

        async def load_purchases(ids: list[int]) -> list[Purchase | None]:
            return await rewards.load_purchases(runtime, ids)

        async def load_purchase_rewards(ids: list[int]) -> list[list[Reward]]:
            return await rewards.load_purchase_rewards(runtime, ids)

        async def load_balances(ids: list[int]) -> list[rewards.Balance]:
            return await rewards.balances(runtime, ids)

        self.purchases = DataLoader(load_fn=load_purchases)
        self.purchase_rewards = DataLoader(load_fn=load_purchase_rewards)
        self.balances = DataLoader(load_fn=load_balances)
        self.customers = DataLoader(load_fn=load_customers)
        self.referrals = DataLoader(load_fn=load_referrals)
        self.codes = DataLoader(load_fn=load_codes)
        self.programs = DataLoader(load_fn=load_programs)

    @property
    def rate_key(self) -> str:
        """Whose bucket pays for this request: the token, else the client's IP address."""
        caller = self.caller
        if isinstance(caller, Principal):
            if caller.token_id is not None:
                return f"token:{caller.token_id}"
            if caller.role is Role.CUSTOMER:
                return f"customer:{caller.customer_id}"
            if caller.role is Role.ADMIN:
                return "admin"
        client = self.request.client
        return f"ip:{client.host if client is not None else '-'}"

    @property
    def principal(self) -> Principal:
        """The caller; a bad token fails every field that asks."""
        if isinstance(self.caller, RequestError):
            raise self.caller
        return self.caller
