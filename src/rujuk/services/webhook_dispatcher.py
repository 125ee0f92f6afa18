"""Delivering the outbox: a background task in every worker of the server.

Each attempt is claimed first (FOR UPDATE SKIP LOCKED, with a lease that passes), so with
`--workers N` one worker attempts it, and a worker killed mid-attempt leaves a claim that
another worker (or the restarted server) takes up once its lease has passed: delivery is at
least once. Failures (timeouts, connection errors, answers other than 2xx) are retried with
exponential backoff and jitter until the delivery's retry window (3 days) has passed; an
endpoint whose every attempt failed for 5 days is disabled with the reason.

Successes are recorded together, by one statement for all those that finished while the
last one ran: at a thousand purchases a second with a few endpoints, a statement per
delivery was most of the database's work. A success not yet recorded when its worker dies
is attempted again once its lease passes (at least once, as for an attempt cut short).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta

from rujuk import ids
from rujuk.config import ConfigError
from rujuk.db import webhooks as webhook_queries
from rujuk.db.pool import DATABASE_ERROR, Pool, RawConnection, connect
from rujuk.errors import ServiceUnavailable
from rujuk.services.webhook_client import AttemptFailed, WebhookClient
from rujuk.services.webhook_events import Outbox
from rujuk.services.webhook_urls import UrlRefused, resolve

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

TIMEOUT_SECONDS = 10.0
# Longer than an attempt can take, so that a live worker's claim never passes mid-attempt.
LEASE = timedelta(seconds=TIMEOUT_SECONDS + 10)
# Per worker: attempts in flight to one endpoint (a slow receiver holds up only its own
# deliveries, and only once this many are waiting on it).
PER_ENDPOINT = 8
# Per worker: deliveries claimed and not yet recorded, in all and of one endpoint. Claims
# are taken many at a time and wait in the worker for a free attempt: one claiming
# statement per attempt was the dispatcher's cost at a few thousand deliveries a second.
MAX_HELD = 512
HELD_PER_ENDPOINT = 128
# A claim waits at most this long for its attempt to start, so that the attempt ends
# (TIMEOUT_SECONDS at most) before its lease passes; one that waited longer (its endpoint
# is slow) is given back for a later claim.
MAX_QUEUED_SECONDS = (LEASE.total_seconds() - TIMEOUT_SECONDS) / 2
# The shortest time between two claims: the deliveries of many commits, one statement.
CLAIM_INTERVAL = 0.02
# How often to look for due retries (and for other workers' events, were a notification lost).
POLL_SECONDS = 0.5
# The longest pause between polls while the database is unavailable.
MAX_UNAVAILABLE_PAUSE = 5.0
FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(hours=6)
# Every attempt failing for this long disables the endpoint.
DISABLE_AFTER = timedelta(days=5)
USER_AGENT = "rujuk-webhooks/1"
# The most successes one statement records, and how long the recorder lets them gather
# (a statement for one or two at a time cost as much as their attempts).
RECORD_BATCH = 1000
RECORD_INTERVAL = 0.05
# How long a stopping worker waits to record the successes it has (else they are retried).
FINAL_RECORD_SECONDS = 5.0


def retry_delay(attempt: int, rng: random.Random) -> timedelta:
    """How long after failed attempt number `attempt` (1, 2, ...) to try again: 5 s, 20 s,
    80 s, ... up to 6 h, each between 0.5 and 1 times that (jitter: retries of many
    deliveries that failed together spread out)."""
    base: timedelta = min(FIRST_RETRY * 4 ** min(attempt - 1, 16), MAX_RETRY)
    return base * rng.uniform(0.5, 1.0)


def signature(keys: tuple[bytes, ...], message_id: str, timestamp: int, body: str) -> str:
    """The webhook-signature header: `v1,<base64 HMAC-SHA256>` per key, space-separated."""
    signed = f"{message_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


def signed_headers(
    keys: tuple[bytes, ...], message_id: str, timestamp: int, body: str
) -> dict[str, str]:
    """The headers of one attempt, as the Standard Webhooks specification names them."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(keys, message_id, timestamp, body),
    }


class WebhookDispatcher:
    """Claims due deliveries, sends them, records each attempt; follows endpoint changes."""

    def __init__(self, pool: Pool, database_url: str, outbox: Outbox, allow_private: bool) -> None:
        self._pool = pool
        self._database_url = database_url
        self._outbox = outbox
        self.allow_private = allow_private
        # An attempt's whole time, name resolution included (tests shorten it).
        self.timeout = TIMEOUT_SECONDS
        # The retry schedule's clock (tests move it on by days); attempts are signed with
        # the real time, which receivers check.
        self.clock: Clock = lambda: datetime.now(UTC)
        self.rng = random.Random()
        self._wake = asyncio.Event()
        self._in_flight: Counter[int] = Counter()
        # Per endpoint, claims waiting for an attempt, with when they were claimed.
        self._queued: dict[int, deque[tuple[webhook_queries.Claim, float]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._listener: RawConnection | None = None
        self._client = WebhookClient(USER_AGENT, TIMEOUT_SECONDS)
        # Successes waiting for the recorder, which the event wakes.
        self._delivered: list[webhook_queries.Delivered] = []
        self._to_record = asyncio.Event()
        self._recorder_task: asyncio.Task[None] | None = None
        self._closing = False

    def now(self) -> datetime:
        """The schedule's present."""
        return self.clock()

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        """Listen for endpoint changes and new events, and start delivering."""
        try:
            await self._listen()
        except (ConfigError, ServiceUnavailable, OSError, DATABASE_ERROR) as exc:
            # Start serving anyway: a worker that starts during an outage (the second of
            # --workers 2, loading after the first) must not fail its start-up here, which
            # stops the whole server; each poll finds the work meanwhile.
            logger.warning("webhook listener not connected yet (%s); retrying", exc)
            self._schedule_relisten()
        self._loop_task = asyncio.create_task(self._run(), name="webhook-dispatcher")
        self._recorder_task = asyncio.create_task(self._recorder(), name="webhook-recorder")

    @property
    def listening(self) -> bool:
        """Whether endpoint changes and new events reach this worker at once."""
        return self._listener is not None

    async def close(self) -> None:
        """Stop claiming and cancel attempts in flight (their leases will pass: retried)."""
        self._closing = True
        tasks = [t for t in (self._loop_task, self._recorder_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        queued = [claim for queue in self._queued.values() for claim, _ in queue]
        self._queued.clear()
        if queued:
            # Given back, so that a worker still running attempts them now.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    webhook_queries.release(self._pool, queued), timeout=FINAL_RECORD_SECONDS
                )
        if self._delivered:
            # What was delivered but not yet recorded would be sent again: record it now.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._record(), timeout=FINAL_RECORD_SECONDS)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.close(), timeout=5)
        await self._client.close()

    async def _listen(self) -> None:
        listener = await connect(self._database_url, connect_timeout=self._pool.connect_timeout)
        listener.add_termination_listener(self._listener_lost)
        await listener.add_listener(webhook_queries.WEBHOOK_CHANNEL, self._notified)
        self._listener = listener
        # Changes made while nobody listened are unknown: forget every cached subscription.
        self._outbox.forget()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        payload = str(payload)
        if payload.startswith("p:"):
            self._outbox.forget(int(payload[2:]))
        self._wake.set()

    def _listener_lost(self, _conn: object) -> None:
        self._listener = None
        self._outbox.forget()
        if not self._closing:
            self._schedule_relisten()

    def _schedule_relisten(self) -> None:
        task = asyncio.get_running_loop().create_task(self._relisten())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relisten(self) -> None:
        while not self._closing and self._listener is None:
            try:
                await self._listen()
            except Exception as exc:
                # Meanwhile the cache is not used for long: each poll finds the work anyway.
                logger.warning("webhook listener reconnect failed: %s", exc)
                self._outbox.forget()
                await asyncio.sleep(1)

    async def _run(self) -> None:
        pause = POLL_SECONDS
        loop = asyncio.get_running_loop()
        last = loop.time() - CLAIM_INTERVAL
        while not self._closing:
            wait = last + CLAIM_INTERVAL - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            last = loop.time()
            try:
                if self._listener is None:
                    self._outbox.forget()
                full = await self._claim()
            except ServiceUnavailable as exc:
                # An outage is reported by /healthz and the requests themselves: one line
                # here, and polls spaced out until the database answers again.
                if pause == POLL_SECONDS:
                    logger.warning("webhook deliveries wait for the database: %s", exc)
                pause = min(pause * 2, MAX_UNAVAILABLE_PAUSE)
                full = False
            except Exception:
                logger.exception("claiming webhook deliveries failed")
                full = False
            else:
                pause = POLL_SECONDS
            if full:
                continue  # there may be more due right now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            self._wake.clear()

    def _held(self, endpoint_id: int) -> int:
        return self._in_flight[endpoint_id] + len(self._queued.get(endpoint_id, ()))

    async def _claim(self) -> bool:
        """Claim what is due, as much as this worker may hold; whether that filled it."""
        endpoints = set(self._in_flight) | set(self._queued)
        held = {e: n for e in endpoints if (n := self._held(e))}
        room = MAX_HELD - sum(held.values())
        if room <= 0:
            return False
        claims = await webhook_queries.claim(
            self._pool, self.now(), LEASE, room, HELD_PER_ENDPOINT, held
        )
        at = time.monotonic()
        for claim in claims:
            self._queued.setdefault(claim.endpoint_id, deque()).append((claim, at))
        for endpoint_id in {claim.endpoint_id for claim in claims}:
            self._start(endpoint_id)
        return len(claims) >= room

    def _start(self, endpoint_id: int) -> None:
        """Start the endpoint's queued attempts that its free attempts allow."""
        queue = self._queued.get(endpoint_id)
        late = []
        while queue and self._in_flight[endpoint_id] < PER_ENDPOINT:
            claim, at = queue.popleft()
            if time.monotonic() - at > MAX_QUEUED_SECONDS:
                late.append(claim)
                continue
            self._in_flight[endpoint_id] += 1
            self._spawn(self._attempt(claim))
        if queue is not None and not queue:
            del self._queued[endpoint_id]
        if late:
            self._spawn(self._release(late))

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, claims: list[webhook_queries.Claim]) -> None:
        try:
            await webhook_queries.release(self._pool, claims)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Their leases will pass instead.
            logger.exception("giving back %d webhook claims failed", len(claims))
        self._wake.set()

    async def _attempt(self, claim: webhook_queries.Claim) -> None:
        try:
            status, error, latency_ms = await self._send(claim)
            now = self.now()
            if error is None:
                assert status is not None  # a success has its status code
                self._delivered.append(webhook_queries.Delivered(claim, now, status, latency_ms))
                self._to_record.set()
                return
            next_at: datetime | None = now + retry_delay(claim.attempt, self.rng)
            if now >= claim.retry_until:
                next_at = None  # the retry window has passed: give up
            elif next_at is not None and next_at > claim.retry_until:
                next_at = claim.retry_until
            await webhook_queries.record_attempt(
                self._pool, claim, now, status, latency_ms, error, next_at, DISABLE_AFTER
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease will pass and the delivery be attempted again.
            logger.exception("webhook delivery %s: recording the attempt failed", claim.delivery_id)
        finally:
            endpoint_id = claim.endpoint_id
            self._in_flight[endpoint_id] -= 1
            if not self._in_flight[endpoint_id]:
                del self._in_flight[endpoint_id]
            if not self._closing:
                self._start(endpoint_id)
                if self._held(endpoint_id) <= HELD_PER_ENDPOINT // 2:
                    self._wake.set()

    async def _recorder(self) -> None:
        while True:
            await self._to_record.wait()
            await asyncio.sleep(RECORD_INTERVAL)
            self._to_record.clear()
            while self._delivered:
                await self._record()

    async def _record(self) -> None:
        batch = self._delivered[:RECORD_BATCH]
        del self._delivered[:RECORD_BATCH]
        try:
            await webhook_queries.record_delivered(self._pool, batch)
        except asyncio.CancelledError:
            self._delivered[:0] = batch  # for close() to record
            raise
        except Exception:
            # Their leases will pass and the deliveries be attempted again.
            logger.exception("recording %d delivered webhooks failed", len(batch))

    async def _send(self, claim: webhook_queries.Claim) -> tuple[int | None, str | None, int]:
        """(status code, error or None, latency in ms) of one POST."""
        started = time.monotonic()
        message_id = ids.to_global_id("WebhookEvent", claim.event_id)
        headers = signed_headers(claim.secrets, message_id, int(time.time()), claim.body)
        status: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.timeout):
                target = await resolve(claim.url, self.allow_private)
                status = await self._client.post(target, headers, claim.body.encode())
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except UrlRefused as refused:
            error = f"refused: {refused}"
        except TimeoutError:
            error = f"timed out after {self.timeout:g} s"
        except AttemptFailed as exc:
            error = f"connection failed: {exc}"
        latency_ms = round((time.monotonic() - started) * 1000)
        return status, error, latency_ms
