"""GET /metrics: who may scrape it, and the exposition of metrics.py with the graphs' lag
behind the database read at that moment."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from rujuk.db import events as event_queries
from rujuk.metrics import DATABASE_SECONDS, exposition, record_collections, sample_pool

logger = logging.getLogger("rujuk.metrics")


def endpoint(token: str | None) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics: with a token, only for `Authorization: Bearer <token>`; without one,
    only for loopback clients."""
    expected = f"Bearer {token}".encode() if token is not None else None

    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return PlainTextResponse(
                    "a valid metrics token is required\n",
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        elif not _loopback(request):
            return PlainTextResponse(
                "metrics are served to loopback clients only (or set RUJUK_METRICS_TOKEN)\n",
                status_code=403,
            )
        pool = request.app.state.runtime.pool
        database: dict[int, int] | None = None
        try:
            database = await asyncio.wait_for(event_queries.graph_versions(pool), DATABASE_SECONDS)
        except Exception as error:
            logger.warning("metrics: graph versions unreadable (%s)", type(error).__name__)
        # After the query, which is not one of the pool's users to report.
        sample_pool(pool)
        record_collections()
        return Response(exposition(database), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _loopback(request: Request) -> bool:
    client = request.client
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False
