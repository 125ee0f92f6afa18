"""Managing a program's webhook endpoints (ADMIN or the program's PARTNER), the test event,
redelivery and the delivery log."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rujuk.access import Principal
from rujuk.db import webhooks as webhook_queries
from rujuk.errors import DomainError
from rujuk.pagination import Page, check_page_size, decode_cursor, encode_cursor
from rujuk.records import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from rujuk.services import webhook_events
from rujuk.services.runtime import Runtime
from rujuk.services.webhook_urls import UrlRefused, resolve
from rujuk.text import is_clean_text

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# After a rotation the old secret keeps signing beside the new one this long.
ROTATION_OVERLAP = timedelta(hours=24)
MAX_DESCRIPTION = 500
MAX_ENDPOINTS = 20
# The attempts shown per delivery in the log (retries over 3 days make about 15).
MAX_ATTEMPTS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class EndpointDraft:
    """What createWebhookEndpoint and updateWebhookEndpoint send (None: unchanged)."""

    url: str | None
    event_types: Sequence[str] | None
    description: str | None
    enabled: bool | None = None


def format_secret(key: bytes) -> str:
    """The `whsec_` form of a signing key, as the Standard Webhooks libraries read it."""
    return SECRET_PREFIX + base64.b64encode(key).decode()


def _unknown_endpoint(field: str = "id") -> DomainError:
    return DomainError("NOT_FOUND", "no such webhook endpoint", field)


async def _managed_endpoint(
    runtime: Runtime, principal: Principal, endpoint_id: int | None, field: str = "id"
) -> WebhookEndpoint:
    principal.require_authenticated()
    endpoint = (
        None
        if endpoint_id is None
        else await webhook_queries.get_endpoint(runtime.pool, endpoint_id)
    )
    if endpoint is None:
        raise _unknown_endpoint(field)
    principal.require_manager(endpoint.program_id)
    return endpoint


async def _check_draft(runtime: Runtime, draft: EndpointDraft) -> None:
    if draft.url is not None:
        try:
            await resolve(draft.url, runtime.settings.webhooks_allow_private)
        except UrlRefused as refused:
            raise DomainError("INVALID_URL", str(refused), "url") from None
    if draft.event_types is not None:
        unknown = sorted(set(draft.event_types) - set(webhook_events.EVENT_TYPES))
        if unknown or not draft.event_types:
            raise DomainError(
                "INVALID_INPUT",
                "eventTypes must name one or more of "
                + ", ".join(webhook_events.EVENT_TYPES)
                + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
                "event_types",
            )
    if draft.description is not None and not (
        draft.description == "" or is_clean_text(draft.description, MAX_DESCRIPTION)
    ):
        raise DomainError(
            "INVALID_INPUT",
            f"description is at most {MAX_DESCRIPTION} characters without control characters",
            "description",
        )


async def create_endpoint(
    runtime: Runtime, principal: Principal, program_id: int | None, draft: EndpointDraft
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its signing secret (shown this once)."""
    principal.require_authenticated()
    program = None if program_id is None else await runtime.graphs.program(program_id)
    if program is None:
        raise DomainError("UNKNOWN_PROGRAM", "no such program", "program_id")
    principal.require_manager(program.id)
    assert draft.url is not None
    assert draft.event_types is not None
    await _check_draft(runtime, draft)
    key = secrets.token_bytes(SECRET_BYTES)
    async with runtime.pool.acquire() as conn, conn.transaction():
        if len(await webhook_queries.list_endpoints(conn, program.id)) >= MAX_ENDPOINTS:
            raise DomainError(
                "INVALID_INPUT",
                f"a program has at most {MAX_ENDPOINTS} webhook endpoints",
                "program_id",
            )
        endpoint = await webhook_queries.insert_endpoint(
            conn,
            program.id,
            draft.url,
            draft.description or "",
            sorted(set(draft.event_types)),
            key,
        )
    runtime.outbox.forget(program.id)
    return endpoint, format_secret(key)


async def list_endpoints(
    runtime: Runtime, principal: Principal, program_id: int | None
) -> list[WebhookEndpoint]:
    """A program's endpoints (an unknown program has none)."""
    principal.require_authenticated()
    if program_id is None:
        return []
    principal.require_manager(program_id)
    return await webhook_queries.list_endpoints(runtime.pool, program_id)


async def find_endpoint(
    runtime: Runtime, principal: Principal, endpoint_id: int
) -> WebhookEndpoint | None:
    """One endpoint the caller manages, or None when there is no such endpoint."""
    principal.require_authenticated()
    endpoint = await webhook_queries.get_endpoint(runtime.pool, endpoint_id)
    if endpoint is not None:
        principal.require_manager(endpoint.program_id)
    return endpoint


async def update_endpoint(
    runtime: Runtime, principal: Principal, endpoint_id: int | None, draft: EndpointDraft
) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description, or enable or disable it."""
    endpoint = await _managed_endpoint(runtime, principal, endpoint_id)
    await _check_draft(runtime, draft)
    async with runtime.pool.acquire() as conn, conn.transaction():
        updated = await webhook_queries.update_endpoint(
            conn,
            endpoint.id,
            draft.url,
            draft.description,
            None if draft.event_types is None else sorted(set(draft.event_types)),
            draft.enabled,
        )
    if updated is None:
        raise _unknown_endpoint()
    runtime.outbox.forget(endpoint.program_id)
    return updated


async def delete_endpoint(runtime: Runtime, principal: Principal, endpoint_id: int | None) -> int:
    """Delete an endpoint and its delivery log; its id."""
    endpoint = await _managed_endpoint(runtime, principal, endpoint_id)
    async with runtime.pool.acquire() as conn, conn.transaction():
        if await webhook_queries.delete_endpoint(conn, endpoint.id) is None:
            raise _unknown_endpoint()
    runtime.outbox.forget(endpoint.program_id)
    return endpoint.id


async def rotate_secret(
    runtime: Runtime, principal: Principal, endpoint_id: int | None
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (shown this once); the old one signs beside it for 24 hours."""
    endpoint = await _managed_endpoint(runtime, principal, endpoint_id)
    key = secrets.token_bytes(SECRET_BYTES)
    async with runtime.pool.acquire() as conn:
        until = datetime.now(UTC) + ROTATION_OVERLAP
        if not await webhook_queries.rotate_secret(conn, endpoint.id, key, until):
            raise _unknown_endpoint()
    return endpoint, format_secret(key)


async def send_test_event(
    runtime: Runtime, principal: Principal, endpoint_id: int | None
) -> WebhookEvent:
    """A `webhook.test` event for this endpoint only."""
    endpoint = await _managed_endpoint(runtime, principal, endpoint_id, "endpoint_id")
    event = webhook_events.test_event(endpoint.id)
    async with runtime.pool.acquire() as conn:
        return await webhook_queries.insert_event_for(
            conn,
            endpoint.program_id,
            endpoint.id,
            event.type,
            webhook_events.body(event.type, event.data, datetime.now(UTC)),
            webhook_events.RETRY_FOR,
        )


async def redeliver_event(
    runtime: Runtime, principal: Principal, event_id: int | None, endpoint_id: int | None
) -> list[WebhookDelivery]:
    """Send an event again now, to one endpoint of its program or to every endpoint that
    had it, with a fresh retry window."""
    principal.require_authenticated()
    unknown = DomainError("NOT_FOUND", "no such webhook event", "event_id")
    event = None if event_id is None else await webhook_queries.get_event(runtime.pool, event_id)
    if event is None:
        raise unknown
    principal.require_manager(event.program_id)
    if endpoint_id is not None:
        endpoint = await webhook_queries.get_endpoint(runtime.pool, endpoint_id)
        if endpoint is None or endpoint.program_id != event.program_id:
            raise _unknown_endpoint("endpoint_id")
        targets = [endpoint.id]
    else:
        targets = await webhook_queries.delivered_endpoints(runtime.pool, event.id)
        if not targets:
            raise DomainError(
                "INVALID_INPUT",
                "this event was sent to no endpoint: name one with endpointId",
                "endpoint_id",
            )
    async with runtime.pool.acquire() as conn:
        return await webhook_queries.redeliver(
            conn, event.id, targets, runtime.webhooks.now(), webhook_events.RETRY_FOR
        )


async def deliveries(
    runtime: Runtime,
    principal: Principal,
    endpoint: WebhookEndpoint,
    status: str | None,
    first: int,
    after: str | None,
) -> Page[WebhookDelivery]:
    """An endpoint's deliveries, newest first, one page."""
    principal.require_manager(endpoint.program_id)
    check_page_size(first)
    before = None if after is None else decode_cursor(after)
    found, total = await webhook_queries.deliveries_of(
        runtime.pool, endpoint.id, status, first + 1, before
    )
    return Page(
        items=[(encode_cursor(d.id), d) for d in found[:first]],
        has_next_page=len(found) > first,
        total_count=total,
    )


async def load_attempts(runtime: Runtime, delivery_ids: list[int]) -> list[list[WebhookAttempt]]:
    """Each delivery's latest attempts, oldest first (batch loading; rights checked by the
    delivery's reader)."""
    found = await webhook_queries.attempts_of(runtime.pool, delivery_ids, MAX_ATTEMPTS_SHOWN)
    return [found[i] for i in delivery_ids]


async def load_events(runtime: Runtime, event_ids: list[int]) -> list[WebhookEvent | None]:
    """Events by id, in the order asked (batch loading; rights checked by the reader)."""
    found = {e.id: e for e in await webhook_queries.get_events(runtime.pool, event_ids)}
    return [found.get(i) for i in event_ids]
