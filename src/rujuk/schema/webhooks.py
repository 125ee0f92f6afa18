"""Webhook endpoints, events and deliveries: types, inputs and payloads (beyond the contract)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from rujuk import ids, records
from rujuk.schema.enums import WebhookDeliveryStatus
from rujuk.schema.payloads import UserError
from rujuk.schema.types import Info, Node, PageInfo, page_info
from rujuk.services import webhooks as webhook_service


@strawberry.type(description="An event of the outbox, as sent (the body is what is signed).")
class WebhookEvent(Node):
    type: str
    payload: str = strawberry.field(description="The exact JSON body sent to endpoints.")
    created_at: datetime

    @classmethod
    def of(cls, event: records.WebhookEvent) -> WebhookEvent:
        return cls(
            id=strawberry.ID(ids.to_global_id("WebhookEvent", event.id)),
            type=event.type,
            payload=event.body,
            created_at=event.created_at,
        )


@strawberry.type
class WebhookAttempt:
    attempted_at: datetime
    status_code: int | None = strawberry.field(description="None when no answer came.")
    latency_ms: int
    error: str | None = strawberry.field(description="None when the attempt succeeded.")

    @classmethod
    def of(cls, attempt: records.WebhookAttempt) -> WebhookAttempt:
        return cls(
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
        )


@strawberry.type(description="One event on its way to one endpoint.")
class WebhookDelivery(Node):
    record: strawberry.Private[records.WebhookDelivery]
    status: WebhookDeliveryStatus
    attempts: int = strawberry.field(description="Attempts so far.")
    next_attempt_at: datetime | None = strawberry.field(description="None unless PENDING.")
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: records.WebhookDelivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(ids.to_global_id("WebhookDelivery", delivery.id)),
            record=delivery,
            status=WebhookDeliveryStatus(delivery.status),
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            last_latency_ms=delivery.last_latency_ms,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
        )

    @strawberry.field
    async def event(self, info: Info) -> WebhookEvent:
        found = await info.context.webhook_events.load(self.record.event_id)
        assert found is not None  # a delivery's event always exists
        return WebhookEvent.of(found)

    @strawberry.field(description="The latest attempts (up to 50), oldest first.")
    async def attempt_log(self, info: Info) -> list[WebhookAttempt]:
        found = await info.context.webhook_attempts.load(self.record.id)
        return [WebhookAttempt.of(a) for a in found]


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="Where a program's events are sent, signed per Standard Webhooks.")
class WebhookEndpoint(Node):
    record: strawberry.Private[records.WebhookEndpoint]
    program_id: strawberry.ID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = strawberry.field(
        description="Why it is disabled: by a user, or every delivery failing for 5 days."
    )
    failing_since: datetime | None = strawberry.field(
        description="The first failed attempt since the last success."
    )
    created_at: datetime

    @classmethod
    def of(cls, endpoint: records.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(ids.to_global_id("WebhookEndpoint", endpoint.id)),
            record=endpoint,
            program_id=strawberry.ID(ids.to_global_id("Program", endpoint.program_id)),
            url=endpoint.url,
            description=endpoint.description,
            event_types=list(endpoint.event_types),
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            failing_since=endpoint.failing_since,
            created_at=endpoint.created_at,
        )

    @strawberry.field(description="The delivery log, newest first.")
    async def deliveries(
        self,
        info: Info,
        status: WebhookDeliveryStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        page = await webhook_service.deliveries(
            info.context.runtime,
            info.context.principal,
            self.record,
            None if status is None else status.value,
            first,
            after,
        )
        return WebhookDeliveryConnection(
            edges=[
                WebhookDeliveryEdge(cursor=cursor, node=WebhookDelivery.of(d))
                for cursor, d in page.items
            ],
            page_info=page_info(page),
            total_count=page.total_count,
        )


@strawberry.input
class CreateWebhookEndpointInput:
    program_id: strawberry.ID
    url: str = strawberry.field(
        description="https (http only with RUJUK_WEBHOOKS_ALLOW_PRIVATE=1); a public address."
    )
    event_types: list[str] = strawberry.field(
        description="Any of referral.created, referral.reviewed, purchase.recorded, "
        "purchase.refunded, reward.earned, reward.approved, reward.reversed, customer.erased."
    )
    description: str | None = None


@strawberry.input
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    enabled: bool | None = strawberry.field(
        default=None, description="false disables it; true enables it and clears the reason."
    )


@strawberry.input
class WebhookEndpointInput:
    id: strawberry.ID


@strawberry.input
class SendTestWebhookEventInput:
    endpoint_id: strawberry.ID


@strawberry.input
class RedeliverWebhookEventInput:
    event_id: strawberry.ID
    endpoint_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: every endpoint the event was sent to."
    )


@strawberry.type
class WebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret (whsec_...): returned by create and rotate only, once.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SendTestWebhookEventPayload:
    event: WebhookEvent | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RedeliverWebhookEventPayload:
    deliveries: list[WebhookDelivery] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)
