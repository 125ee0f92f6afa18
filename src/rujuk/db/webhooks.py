"""Queries on webhook endpoints, the event outbox, deliveries and their attempts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rujuk.db.pool import Connection, Pool
from rujuk.records import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

# Every worker listens: "p:<program id>" when a program's endpoints changed (its cached
# subscriptions are dropped), "e" when events were committed (the dispatchers look for work).
WEBHOOK_CHANNEL = "rujuk_webhooks"

_ENDPOINT = (
    "id, program_id, url, description, event_types, enabled, disabled_reason, created_at,"
    " failing_since"
)
_DELIVERY = (
    "id, event_id, endpoint_id, status, attempts, next_attempt_at, last_status_code, last_error,"
    " last_latency_ms, created_at, delivered_at"
)


def _endpoint(row: Any) -> WebhookEndpoint:
    values = {k: row[k] for k in WebhookEndpoint.__slots__}
    values["event_types"] = tuple(values["event_types"])
    return WebhookEndpoint(**values)


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(**{k: row[k] for k in WebhookDelivery.__slots__})


async def _changed(conn: Connection, program_id: int) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", WEBHOOK_CHANNEL, f"p:{program_id}")


async def subscribed_types(conn: Connection | Pool, program_id: int) -> frozenset[str]:
    """The event types some enabled endpoint of the program subscribes to."""
    rows = await conn.fetch(
        """SELECT DISTINCT unnest(event_types) AS type FROM webhook_endpoint
           WHERE program_id = $1 AND enabled""",
        program_id,
    )
    return frozenset(r["type"] for r in rows)


async def insert_endpoint(
    conn: Connection,
    program_id: int,
    url: str,
    description: str,
    event_types: Sequence[str],
    secret: bytes,
) -> WebhookEndpoint:
    """A new enabled endpoint (inside the caller's transaction: other workers learn at commit)."""
    row = await conn.fetchrow(
        f"""INSERT INTO webhook_endpoint (program_id, url, description, event_types, secret)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_ENDPOINT}""",
        program_id,
        url,
        description,
        list(event_types),
        secret,
    )
    await _changed(conn, program_id)
    return _endpoint(row)


async def get_endpoint(conn: Connection | Pool, endpoint_id: int) -> WebhookEndpoint | None:
    """One endpoint, or None."""
    row = await conn.fetchrow(
        f"SELECT {_ENDPOINT} FROM webhook_endpoint WHERE id = $1", endpoint_id
    )
    return None if row is None else _endpoint(row)


async def list_endpoints(conn: Connection | Pool, program_id: int) -> list[WebhookEndpoint]:
    """A program's endpoints, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_ENDPOINT} FROM webhook_endpoint WHERE program_id = $1 ORDER BY id", program_id
    )
    return [_endpoint(r) for r in rows]


async def update_endpoint(
    conn: Connection,
    endpoint_id: int,
    url: str | None,
    description: str | None,
    event_types: Sequence[str] | None,
    enabled: bool | None,
) -> WebhookEndpoint | None:
    """Change what is given (None keeps it); enabling clears the reason and the failure streak."""
    row = await conn.fetchrow(
        f"""UPDATE webhook_endpoint SET
                url = coalesce($2, url),
                description = coalesce($3, description),
                event_types = coalesce($4, event_types),
                enabled = coalesce($5, enabled),
                disabled_reason = CASE WHEN $5 IS NULL THEN disabled_reason
                                       WHEN $5 THEN NULL ELSE 'disabled by a user' END,
                failing_since = CASE WHEN $5 THEN NULL ELSE failing_since END
            WHERE id = $1 RETURNING {_ENDPOINT}""",
        endpoint_id,
        url,
        description,
        None if event_types is None else list(event_types),
        enabled,
    )
    if row is None:
        return None
    await _changed(conn, row["program_id"])
    return _endpoint(row)


async def delete_endpoint(conn: Connection, endpoint_id: int) -> int | None:
    """Delete an endpoint with its deliveries' log; its program's id, or None."""
    program_id: int | None = await conn.fetchval(
        "DELETE FROM webhook_endpoint WHERE id = $1 RETURNING program_id", endpoint_id
    )
    if program_id is not None:
        await _changed(conn, program_id)
    return program_id


async def rotate_secret(
    conn: Connection, endpoint_id: int, secret: bytes, previous_until: datetime
) -> bool:
    """Sign with a new key from now on, and with the current one beside it until previous_until."""
    done = await conn.fetchval(
        """UPDATE webhook_endpoint
           SET previous_secret = secret, previous_secret_until = $3, secret = $2
           WHERE id = $1 RETURNING true""",
        endpoint_id,
        secret,
        previous_until,
    )
    return bool(done)


async def insert_events(
    conn: Connection,
    program_id: int,
    types: Sequence[str],
    bodies: Sequence[str],
    retry_for: timedelta,
) -> None:
    """Add events to the outbox with one delivery per enabled endpoint subscribed to each."""
    await conn.execute(
        """
        WITH event AS (
            INSERT INTO webhook_event (program_id, type, body)
            SELECT $1, type, body FROM unnest($2::text[], $3::text[]) AS e(type, body)
            RETURNING id, type
        ), delivery AS (
            INSERT INTO webhook_delivery (event_id, endpoint_id, next_attempt_at, retry_until)
            SELECT event.id, endpoint.id, now(), now() + $4::interval
            FROM event JOIN webhook_endpoint endpoint
              ON endpoint.program_id = $1 AND endpoint.enabled
                 AND event.type = ANY(endpoint.event_types)
            RETURNING 1
        )
        SELECT pg_notify($5, 'e') WHERE EXISTS (SELECT 1 FROM delivery)
        """,
        program_id,
        list(types),
        list(bodies),
        retry_for,
        WEBHOOK_CHANNEL,
    )


async def insert_event_for(
    conn: Connection,
    program_id: int,
    endpoint_id: int,
    type_: str,
    body: str,
    retry_for: timedelta,
) -> WebhookEvent:
    """An event delivered to one endpoint only (the test event)."""
    row = await conn.fetchrow(
        """
        WITH event AS (
            INSERT INTO webhook_event (program_id, type, body) VALUES ($1, $3, $4)
            RETURNING id, program_id, type, body, created_at
        ), delivery AS (
            INSERT INTO webhook_delivery (event_id, endpoint_id, next_attempt_at, retry_until)
            SELECT id, $2, now(), now() + $5::interval FROM event
        ), notify AS (
            SELECT pg_notify($6, 'e')
        )
        SELECT event.* FROM event, notify
        """,
        program_id,
        endpoint_id,
        type_,
        body,
        retry_for,
        WEBHOOK_CHANNEL,
    )
    assert row is not None  # the INSERT returns its row
    return WebhookEvent(**{k: row[k] for k in WebhookEvent.__slots__})


async def get_event(conn: Connection | Pool, event_id: int) -> WebhookEvent | None:
    """One event of the outbox, or None."""
    row = await conn.fetchrow(
        "SELECT id, program_id, type, body, created_at FROM webhook_event WHERE id = $1", event_id
    )
    return None if row is None else WebhookEvent(**{k: row[k] for k in WebhookEvent.__slots__})


async def get_events(conn: Connection | Pool, event_ids: list[int]) -> list[WebhookEvent]:
    """Events by id (missing ids are left out)."""
    rows = await conn.fetch(
        "SELECT id, program_id, type, body, created_at FROM webhook_event WHERE id = ANY($1)",
        event_ids,
    )
    return [WebhookEvent(**{k: r[k] for k in WebhookEvent.__slots__}) for r in rows]


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this worker may attempt until its lease passes."""

    delivery_id: int
    attempt: int
    endpoint_id: int
    url: str
    secrets: tuple[bytes, ...]
    event_id: int
    body: str
    retry_until: datetime


async def claim(
    conn: Connection | Pool,
    now: datetime,
    lease: timedelta,
    limit: int,
    per_endpoint: int,
    busy: dict[int, int],
) -> list[Claim]:
    """Lease up to `limit` due deliveries of enabled endpoints, at most per_endpoint minus
    `busy[endpoint]` (the deliveries this worker holds already) of each endpoint. Rows
    another worker is claiming are skipped, not waited for."""
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT d.id, d.endpoint_id,
                   row_number() OVER (PARTITION BY d.endpoint_id
                                      ORDER BY d.next_attempt_at, d.id) AS rank
            FROM (SELECT id, endpoint_id, next_attempt_at FROM webhook_delivery
                  WHERE status = 'PENDING' AND next_attempt_at <= $1
                    AND (leased_until IS NULL OR leased_until <= $1)
                  ORDER BY next_attempt_at LIMIT $3 * 8) AS d
            JOIN webhook_endpoint e ON e.id = d.endpoint_id AND e.enabled
        ), chosen AS (
            SELECT due.id FROM due
            LEFT JOIN unnest($5::bigint[], $6::int[]) AS busy(endpoint_id, n) USING (endpoint_id)
            WHERE due.rank <= $4 - coalesce(busy.n, 0)
            LIMIT $3
        ), locked AS (
            SELECT id FROM webhook_delivery
            WHERE id IN (SELECT id FROM chosen) AND status = 'PENDING'
              AND (leased_until IS NULL OR leased_until <= $1)
            FOR UPDATE SKIP LOCKED
        )
        UPDATE webhook_delivery d
        SET leased_until = $1 + $2::interval, attempts = d.attempts + 1
        FROM locked, webhook_event ev, webhook_endpoint e
        WHERE d.id = locked.id AND ev.id = d.event_id AND e.id = d.endpoint_id
        RETURNING d.id, d.attempts, d.endpoint_id, d.retry_until, e.url, e.secret,
                  CASE WHEN e.previous_secret_until > $1 THEN e.previous_secret END
                      AS previous_secret,
                  ev.id AS event_id, ev.body
        """,
        now,
        lease,
        limit,
        per_endpoint,
        list(busy),
        list(busy.values()),
    )
    return [
        Claim(
            delivery_id=r["id"],
            attempt=r["attempts"],
            endpoint_id=r["endpoint_id"],
            url=r["url"],
            secrets=(r["secret"],)
            if r["previous_secret"] is None
            else (r["secret"], r["previous_secret"]),
            event_id=r["event_id"],
            body=r["body"],
            retry_until=r["retry_until"],
        )
        for r in rows
    ]


async def record_attempt(
    conn: Connection | Pool,
    claim: Claim,
    attempted_at: datetime,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    next_attempt_at: datetime | None,
    disable_after: timedelta,
) -> bool:
    """Log an attempt and move its delivery on: DELIVERED when error is None, else PENDING
    again at next_attempt_at, or FAILED when that is None. A failure also extends the
    endpoint's streak of failures, disabling it once the streak is disable_after long; a
    success ends the streak. Nothing happens when the claim was lost (its lease passed and
    another worker claimed the delivery again, or a redelivery released it): False then."""
    done = await conn.fetchval(
        """
        WITH delivery AS (
            UPDATE webhook_delivery SET
                status = CASE WHEN $5::text IS NULL THEN 'DELIVERED'
                              WHEN $6::timestamptz IS NULL THEN 'FAILED' ELSE 'PENDING' END,
                next_attempt_at = CASE WHEN $5::text IS NULL THEN NULL ELSE $6 END,
                delivered_at = CASE WHEN $5::text IS NULL THEN $3::timestamptz END,
                leased_until = NULL,
                last_status_code = $4::int, last_error = $5, last_latency_ms = $7::int
            WHERE id = $1 AND attempts = $2 AND leased_until IS NOT NULL
            RETURNING id, endpoint_id
        ), attempt AS (
            INSERT INTO webhook_attempt (delivery_id, attempted_at, status_code, latency_ms, error)
            SELECT id, $3, $4, $7, $5 FROM delivery
        ), streak AS (
            UPDATE webhook_endpoint e SET
                failing_since = CASE WHEN $5::text IS NULL THEN NULL
                                     ELSE coalesce(e.failing_since, $3) END,
                enabled = e.enabled AND NOT coalesce(
                    $5::text IS NOT NULL AND e.failing_since <= $8::timestamptz, false),
                disabled_reason = CASE
                    WHEN e.enabled AND $5::text IS NOT NULL AND e.failing_since <= $8::timestamptz
                    THEN 'every delivery failed since ' || to_char(e.failing_since AT TIME ZONE
                         'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '; last error: ' || $5
                    ELSE e.disabled_reason END
            FROM delivery WHERE e.id = delivery.endpoint_id
              AND ($5::text IS NOT NULL OR e.failing_since IS NOT NULL)
            RETURNING e.program_id, e.enabled
        )
        SELECT (SELECT count(*) FROM delivery) > 0 AS recorded,
               (SELECT pg_notify($9, 'p:' || program_id) FROM streak WHERE NOT enabled) AS _
        """,
        claim.delivery_id,
        claim.attempt,
        attempted_at,
        status_code,
        error,
        next_attempt_at,
        latency_ms,
        attempted_at - disable_after,
        WEBHOOK_CHANNEL,
    )
    return bool(done)


async def release(conn: Connection | Pool, claims: Sequence[Claim]) -> None:
    """Give claims back unattempted: due again at once, for any worker (a claim lost
    meanwhile, its lease passed and claimed again, is left alone)."""
    await conn.execute(
        """UPDATE webhook_delivery d SET leased_until = NULL, attempts = d.attempts - 1
           FROM unnest($1::bigint[], $2::int[]) AS r(id, attempt)
           WHERE d.id = r.id AND d.attempts = r.attempt AND d.status = 'PENDING'""",
        [c.delivery_id for c in claims],
        [c.attempt for c in claims],
    )


@dataclass(frozen=True, slots=True)
class Delivered:
    """A successful attempt, waiting to be recorded with others."""

    claim: Claim
    attempted_at: datetime
    status_code: int
    latency_ms: int


async def record_delivered(conn: Connection | Pool, delivered: Sequence[Delivered]) -> int:
    """Log successful attempts and mark their deliveries DELIVERED, in one statement; a
    success also ends its endpoint's streak of failures (one that began before it). Claims
    that were lost (their lease passed and another worker claimed the delivery again, or a
    redelivery released it) are left out; how many were recorded."""
    if not delivered:
        return 0
    count: int = await conn.fetchval(
        """
        WITH done AS (
            SELECT * FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::int[],
                                 $5::int[]) AS d(id, attempt, attempted_at, status_code,
                                                 latency_ms)
        ), delivery AS (
            UPDATE webhook_delivery w SET
                status = 'DELIVERED', next_attempt_at = NULL, delivered_at = done.attempted_at,
                leased_until = NULL, last_status_code = done.status_code, last_error = NULL,
                last_latency_ms = done.latency_ms
            FROM done WHERE w.id = done.id AND w.attempts = done.attempt
              -- A redelivery releases the lease: the claim's late success is not its.
              AND w.leased_until IS NOT NULL
            RETURNING w.id, w.endpoint_id, done.attempted_at, done.status_code, done.latency_ms
        ), attempt AS (
            INSERT INTO webhook_attempt (delivery_id, attempted_at, status_code, latency_ms)
            SELECT id, attempted_at, status_code, latency_ms FROM delivery
        ), streak AS (
            UPDATE webhook_endpoint e SET failing_since = NULL
            FROM (SELECT endpoint_id, max(attempted_at) AS attempted_at FROM delivery
                  GROUP BY endpoint_id) AS success
            WHERE e.id = success.endpoint_id AND e.failing_since <= success.attempted_at
        )
        SELECT count(*) FROM delivery
        """,
        [d.claim.delivery_id for d in delivered],
        [d.claim.attempt for d in delivered],
        [d.attempted_at for d in delivered],
        [d.status_code for d in delivered],
        [d.latency_ms for d in delivered],
    )
    return count


async def deliveries_of(
    conn: Connection | Pool, endpoint_id: int, status: str | None, limit: int, before_id: int | None
) -> tuple[list[WebhookDelivery], int]:
    """An endpoint's deliveries, newest first, after a keyset cursor; and how many in all."""
    rows = await conn.fetch(
        f"""SELECT {_DELIVERY} FROM webhook_delivery
            WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2)
              AND ($4::bigint IS NULL OR id < $4)
            ORDER BY id DESC LIMIT $3""",
        endpoint_id,
        status,
        limit,
        before_id,
    )
    total = await conn.fetchval(
        """SELECT count(*) FROM webhook_delivery
           WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2)""",
        endpoint_id,
        status,
    )
    return [_delivery(r) for r in rows], int(total)


async def attempts_of(
    conn: Connection | Pool, delivery_ids: list[int], per_delivery: int
) -> dict[int, list[WebhookAttempt]]:
    """The latest attempts of each delivery, oldest first."""
    rows = await conn.fetch(
        """SELECT * FROM (
               SELECT delivery_id, attempted_at, status_code, latency_ms, error,
                      row_number() OVER (PARTITION BY delivery_id ORDER BY id DESC) AS rank, id
               FROM webhook_attempt WHERE delivery_id = ANY($1)) AS a
           WHERE rank <= $2 ORDER BY delivery_id, id""",
        delivery_ids,
        per_delivery,
    )
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    for r in rows:
        found[r["delivery_id"]].append(
            WebhookAttempt(r["attempted_at"], r["status_code"], r["latency_ms"], r["error"])
        )
    return found


async def redeliver(
    conn: Connection,
    event_id: int,
    endpoint_ids: Sequence[int],
    now: datetime,
    retry_for: timedelta,
) -> list[WebhookDelivery]:
    """Send an event again to these endpoints, now, with a fresh retry window (a delivery is
    made for an endpoint that never had one)."""
    rows = await conn.fetch(
        f"""
        WITH redelivered AS (
            INSERT INTO webhook_delivery (event_id, endpoint_id, next_attempt_at, retry_until)
            SELECT $1, endpoint_id, $3::timestamptz, $3::timestamptz + $4::interval
            FROM unnest($2::bigint[]) AS endpoint_id
            ON CONFLICT (event_id, endpoint_id) DO UPDATE SET
                status = 'PENDING', next_attempt_at = excluded.next_attempt_at,
                retry_until = excluded.retry_until, leased_until = NULL
            RETURNING {_DELIVERY}
        ), notify AS (
            SELECT pg_notify($5, 'e')
        )
        SELECT redelivered.* FROM redelivered, notify ORDER BY id
        """,
        event_id,
        list(endpoint_ids),
        now,
        retry_for,
        WEBHOOK_CHANNEL,
    )
    return [_delivery(r) for r in rows]


async def delivered_endpoints(conn: Connection | Pool, event_id: int) -> list[int]:
    """The endpoints that have a delivery of this event."""
    rows = await conn.fetch(
        "SELECT endpoint_id FROM webhook_delivery WHERE event_id = $1 ORDER BY endpoint_id",
        event_id,
    )
    return [r["endpoint_id"] for r in rows]
