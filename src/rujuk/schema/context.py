"""The per-request context: the runtime, the caller, and batch loaders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from rujuk.access import Principal, Role
from rujuk.db.pool import SharedConnection
from rujuk.errors import RequestError
from rujuk.observe import Exchange
from rujuk.persisted_queries import PersistedQueries
from rujuk.rate_limit import RateLimiter
from rujuk.records import (
    Customer,
    Program,
    Purchase,
    Referral,
    ReferralCode,
    Reward,
    WebhookAttempt,
    WebhookEvent,
)
from rujuk.services import customers as customer_service
from rujuk.services import programs as program_service
from rujuk.services import rewards as reward_service
from rujuk.services import webhooks as webhook_service
from rujuk.services.runtime import Runtime


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
    # The worker's persisted documents (checked on strawberry's path in allow-list mode).
    persisted: PersistedQueries | None = None
    # The HTTP request as the metrics and the log see it (None over WebSocket).
    exchange: Exchange | None = None

    @cached_property
    def db(self) -> SharedConnection:
        """Where this request's reads run: back to back on one pooled connection at a time,
        however many of its fields read at once."""
        return SharedConnection(self.runtime.pool)

    # Batch loaders, made on first use: most requests need one or none of them.
    @cached_property
    def customers(self) -> DataLoader[int, Customer | None]:
        """Customers by id."""
        return DataLoader(load_fn=partial(customer_service.load_customers, self.db))

    @cached_property
    def referrals(self) -> DataLoader[int, Referral | None]:
        """Each customer's link to its referrer, by referee id."""
        return DataLoader(load_fn=partial(customer_service.load_referrals, self.db))

    @cached_property
    def codes(self) -> DataLoader[int, list[ReferralCode]]:
        """Each customer's referral codes, by customer id."""
        return DataLoader(load_fn=partial(customer_service.load_codes, self.db))

    @cached_property
    def programs(self) -> DataLoader[int, Program | None]:
        """Programs by id."""
        return DataLoader(load_fn=partial(program_service.load_programs, self.runtime))

    @cached_property
    def purchases(self) -> DataLoader[int, Purchase | None]:
        """Purchases by id."""
        return DataLoader(load_fn=partial(reward_service.load_purchases, self.db))

    @cached_property
    def purchase_rewards(self) -> DataLoader[int, list[Reward]]:
        """Each purchase's rewards, by purchase id."""
        return DataLoader(load_fn=partial(reward_service.load_purchase_rewards, self.db))

    @cached_property
    def balances(self) -> DataLoader[int, reward_service.Balance]:
        """Each customer's balance, by customer id."""
        return DataLoader(load_fn=partial(reward_service.balances, self.db))

    @cached_property
    def webhook_events(self) -> DataLoader[int, WebhookEvent | None]:
        """Webhook events by id."""
        return DataLoader(load_fn=partial(webhook_service.load_events, self.runtime))

    @cached_property
    def webhook_attempts(self) -> DataLoader[int, list[WebhookAttempt]]:
        """Each webhook delivery's latest attempts, by delivery id."""
        return DataLoader(load_fn=partial(webhook_service.load_attempts, self.runtime))

    def known_customer(self, customer: Customer) -> Customer:
        """A customer this request has read: loading it again (a code's owner, say) runs no
        statement."""
        self.customers.prime(customer.id, customer)
        return customer

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
