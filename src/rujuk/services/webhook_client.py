"""Posting webhooks over aiohttp: kept-alive connections, explicit timeouts, no redirects.

An attempt connects to the very address its URL check resolved (webhook_urls.Target): the
URL names the address, the Host header and the TLS server name (SNI and the certificate
check) name the host. aiohttp keeps connections by address, port and server name, so a
connection verified for one name is never reused for another name behind the same address.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from rujuk.services.webhook_urls import Target

# An answer's body is read up to this many bytes (its status code is all that matters);
# a longer one costs its connection, not the attempt.
MAX_ANSWER_BYTES = 64 * 1024
# Connections in all (one per attempt in flight), and how long an idle one is kept.
MAX_CONNECTIONS = 512
IDLE_SECONDS = 30.0


class AttemptFailed(Exception):
    """The POST got no HTTP answer (the message says why: no connection, not HTTP, ...)."""


class WebhookClient:
    """POSTs webhook bodies to checked targets; close() when done."""

    def __init__(self, user_agent: str, timeout: float) -> None:
        self._user_agent = user_agent
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, target: Target, headers: Mapping[str, str], body: bytes) -> int:
        """Send body to the target; the answer's status code once it is read. Raises
        AttemptFailed when no HTTP answer came, TimeoutError when it took too long."""
        try:
            async with self._client().post(
                target.url,
                data=body,
                headers={**headers, "host": target.host_header},
                server_hostname=target.server_name,
                allow_redirects=False,
            ) as response:
                read = 0
                async for chunk in response.content.iter_any():
                    read += len(chunk)
                    if read > MAX_ANSWER_BYTES:
                        break  # the rest is not waited for: its connection is closed
                return response.status
        except TimeoutError:
            raise  # aiohttp's own timeouts are ClientErrors too: reported as timeouts
        except (aiohttp.ClientError, OSError) as exc:
            raise AttemptFailed(type(exc).__name__) from exc

    async def close(self) -> None:
        """Close every connection."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=MAX_CONNECTIONS,
                    keepalive_timeout=IDLE_SECONDS,
                ),
                timeout=self._timeout,
                headers={"user-agent": self._user_agent},
                auto_decompress=False,
                # A receiver's cookies are not sent back with later deliveries.
                cookie_jar=aiohttp.DummyCookieJar(),
                # No proxy or netrc from the environment: an attempt goes straight to its
                # checked address.
                trust_env=False,
            )
        return self._session
