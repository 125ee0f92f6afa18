"""The bench's webhook receiver, run in its own process: a bare asyncio HTTP/1.1 server.

It answers every POST 200 at once and notes, per request, the event's lag: the time it
arrived less the `timestamp` in its body (taken by the writer just before the statement
that commits the event, so the lag counts the commit too). `GET /stats?since=S&until=U`
answers, as JSON, the requests, the distinct (endpoint path, webhook-id) pairs and the lag
percentiles of the events whose timestamp is in [S, U) (seconds since the epoch).

Bare asyncio rather than uvicorn: the receiver shares the two cores with the server it
measures, so it should take as little of them as it can.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime
from typing import cast
from urllib.parse import parse_qs, urlsplit

import numpy as np

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
_STAMP = b'"timestamp":"'


class Log:
    """What arrived: each request's event time and arrival time, and which it was."""

    def __init__(self) -> None:
        self.event_at: list[float] = []
        self.arrived_at: list[float] = []
        self.seen: set[tuple[bytes, bytes]] = set()
        self.requests = 0

    def add(self, path: bytes, message_id: bytes, body: bytes, arrived: float) -> None:
        self.requests += 1
        self.seen.add((path, message_id))
        start = body.find(_STAMP)
        if start < 0:
            return
        start += len(_STAMP)
        stamp = body[start : body.index(b'"', start)].decode()
        self.event_at.append(datetime.fromisoformat(stamp).timestamp())
        self.arrived_at.append(arrived)

    def stats(self, since: float, until: float) -> dict[str, float]:
        at = np.array(self.event_at)
        lags = np.array(self.arrived_at) - at
        window = lags[(at >= since) & (at < until)]
        found: dict[str, float] = {
            "requests": float(self.requests),
            "distinct": float(len(self.seen)),
            "in_window": float(window.size),
        }
        for name, q in (("p50", 50), ("p99", 99), ("max", 100)):
            found[name] = float(np.percentile(window, q)) if window.size else float("nan")
        return found


class Connection(asyncio.Protocol):
    """One keep-alive connection: requests parsed as they complete, answered in order."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].split(b"\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = head[0].split(b" ", 2)
            assert self.transport is not None
            if method == b"GET":
                self._stats(target.decode())
            else:
                self.log.add(target, headers.get(b"webhook-id", b""), body, time.time())
                self.transport.write(OK)

    def _stats(self, target: str) -> None:
        query = parse_qs(urlsplit(target).query)
        since = float(query.get("since", ["0"])[0])
        until = float(query.get("until", ["inf"])[0])
        payload = json.dumps(self.log.stats(since, until)).encode()
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )


async def _serve(port: int) -> None:
    log = Log()
    server = await asyncio.get_running_loop().create_server(
        lambda: Connection(log), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    """Serve on 127.0.0.1:--port until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the stdlib loop is fine, only slower
        pass
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
