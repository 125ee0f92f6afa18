"""Posting webhooks: a small HTTP/1.1 client keeping connections alive per address.

A webhook is one POST of a small body whose answer only matters by its status code, sent
thousands of times a second to a few receivers. httpx spent most of a delivering worker's
time in its own layers for that (its connection pool, anyio, and without sniffio installed
a failing import per request): 43% of a worker's samples under load, against 55% for the
whole attempt. This client writes the request in one piece and reads the answer with
asyncio's stream reader: status line, headers, then the body by its Content-Length, its
chunks, or up to the connection's end, at most MAX_ANSWER_BYTES of it (a longer answer
costs its connection, not the attempt).

No redirects are followed and no proxy is used: an attempt goes to the very address its URL
check resolved (see webhook_urls).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from rujuk.services.webhook_urls import Target

MAX_ANSWER_BYTES = 64 * 1024
# Idle connections kept per address (several endpoints may share one: the dispatcher's
# attempts in flight to each), and for how long; more, or older, are closed.
MAX_IDLE = 64
IDLE_SECONDS = 30.0
# Characters sent as they are in a request target; any other is percent-encoded.
_TARGET_SAFE = "/%:@!$&'()*+,;=-._~?"


class AnswerError(Exception):
    """The receiver's answer is not HTTP/1.x as this client reads it."""


@dataclass(frozen=True, slots=True)
class _Origin:
    host: str
    port: int
    tls: bool
    server_name: str | None


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self) -> bool:
        """Not closed by either side while it was idle."""
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class WebhookSender:
    """POSTs to targets over kept-alive connections; one per request in flight."""

    def __init__(self, user_agent: str) -> None:
        self._user_agent = user_agent
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, target: Target, headers: Mapping[str, str], body: bytes) -> int:
        """Send body to the target; the answer's status code once it is read. Raises OSError
        when the connection fails, AnswerError when the answer is not HTTP; the caller
        bounds the time (a cancelled request's connection is closed)."""
        origin, path = _where(target.url, target.server_name)
        lines = [
            f"POST {path} HTTP/1.1",
            f"host: {target.host_header}",
            f"user-agent: {self._user_agent}",
            f"content-length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError("a webhook request line holds a line break")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        connection = self._reuse(origin)
        if connection is not None:
            try:
                return await self._exchange(origin, connection, request)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
                # The receiver closed the idle connection as this request went out (its
                # keep-alive ran out): nothing was answered, so send it on a new one.
        return await self._exchange(origin, await self._connect(origin), request)

    async def close(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _reuse(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection
            connection.close()
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        context: ssl.SSLContext | None = None
        if origin.tls:
            if self._tls is None:
                # httpx's trust store: certifi's certificates, no environment variables.
                self._tls = httpx.create_ssl_context(trust_env=False)
            context = self._tls
        reader, writer = await asyncio.open_connection(
            origin.host,
            origin.port,
            ssl=context,
            server_hostname=(origin.server_name or origin.host) if context else None,
            limit=MAX_ANSWER_BYTES,
        )
        return _Connection(reader, writer)

    async def _exchange(self, origin: _Origin, connection: _Connection, request: bytes) -> int:
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            status, reusable = await _read_answer(connection.reader)
        except BaseException:
            connection.close()
            raise
        idle = self._idle.setdefault(origin, [])
        now = time.monotonic()
        while idle and now - idle[0].idle_since > IDLE_SECONDS:
            idle.pop(0).close()
        if reusable and len(idle) < MAX_IDLE:
            connection.idle_since = now
            idle.append(connection)
        else:
            connection.close()
        return status


@functools.lru_cache(maxsize=1024)
def _where(url: str, server_name: str | None) -> tuple[_Origin, str]:
    """Where a target URL connects, and its request target (percent-encoded)."""
    parts = urlsplit(url)
    assert parts.hostname is not None  # the URL check refuses URLs without a host
    tls = parts.scheme == "https"
    origin = _Origin(parts.hostname, parts.port or (443 if tls else 80), tls, server_name)
    path = quote(parts.path or "/", safe=_TARGET_SAFE) + (
        "?" + quote(parts.query, safe=_TARGET_SAFE) if parts.query else ""
    )
    return origin, path


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The answer's status code, read to its end, and whether its connection may be kept."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise AnswerError("the answer's head is too long") from None
        status_line, *header_lines = head[:-4].split(b"\r\n")
        version, _, rest = status_line.partition(b" ")
        code = rest[:3]
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or not code.isdigit():
            raise AnswerError("the answer is not HTTP/1.x")
        status = int(code)
        if not 100 <= status < 200 or status == 101:
            break
        # An interim answer (100 Continue, 103 Early Hints): the final one follows.
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        name, colon, value = line.partition(b":")
        if not colon:
            raise AnswerError("the answer has a malformed header")
        key = name.strip().lower()
        headers[key] = headers[key] + b"," + value.strip() if key in headers else value.strip()
    reusable = (
        version == b"HTTP/1.1"
        and status != 101
        and b"close" not in _tokens(headers.get(b"connection", b""))
    )
    if status in (101, 204, 304):
        return status, reusable and status != 101
    if b"chunked" in _tokens(headers.get(b"transfer-encoding", b"")):
        return status, reusable and await _read_chunks(reader)
    length = headers.get(b"content-length")
    if length is not None:
        if not length.isdigit():
            raise AnswerError("the answer's Content-Length is not a number")
        size = int(length)
        if size > MAX_ANSWER_BYTES:
            return status, False
        await reader.readexactly(size)
        return status, reusable
    # Delimited by the end of the connection: read it (up to the bound), keep nothing.
    read = 0
    while read <= MAX_ANSWER_BYTES and (chunk := await reader.read(MAX_ANSWER_BYTES)):
        read += len(chunk)
    return status, False


async def _read_chunks(reader: asyncio.StreamReader) -> bool:
    """Read a chunked body; whether it ended within MAX_ANSWER_BYTES (else it is cut off)."""
    read = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise AnswerError("the answer's chunk size is not a number") from None
        if size == 0:
            break
        read += size
        if read > MAX_ANSWER_BYTES:
            return False
        await reader.readexactly(size + 2)
    # Trailer fields, up to the empty line.
    while await reader.readuntil(b"\r\n") != b"\r\n":
        pass
    return True


def _tokens(value: bytes) -> set[bytes]:
    return {token.strip().lower() for token in value.split(b",")}
