"""uvicorn beyond its public API: its HTTP/1.1 protocol, server and multiprocess supervisor,
subclassed for `rujuk serve`'s graceful shutdown (see rujuk/lifecycle.py for why).

These classes override uvicorn's methods and read its private state (the connection's
cycle and the transport it writes to, keep-alive timer and `_unset_keepalive_if_required`,
the server's `_captured_signals`, the supervisor's signal queue and `keep_subprocess_alive`);
they are pinned by tests/compat/test_uvicorn.py and, end to end,
tests/reliability/test_lifecycle.py.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from types import FrameType
from typing import Any, cast

from uvicorn import Config, Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

# How long an idle keep-alive connection may still send a request once shutdown begins. Its
# client may be sending one at that very moment: closing at once would reset it.
IDLE_LINGER_SECONDS = 1.0


class DrainingHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, except that shutdown answers the next request of an idle
    keep-alive connection (with `Connection: close`) instead of closing under it."""

    draining = False

    def shutdown(self) -> None:
        self.draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return
        if self.transport.is_closing():
            return
        # The keep-alive timer's handler closes the connection unless a request comes first
        # (data_received cancels it).
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(
            min(IDLE_LINGER_SECONDS, self.timeout_keep_alive), self.timeout_keep_alive_handler
        )

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None:
            return
        # A request to upgrade (WebSocket) makes no cycle: the last one is still there.
        if not isinstance(cycle.transport, CoalescingTransport):
            # Duck-typed: the cycle writes, closes and asks is_closing, nothing else.
            coalescing = CoalescingTransport(self.transport, self.loop)
            cycle.transport = cast(asyncio.Transport, coalescing)
        if self.draining:
            cycle.keep_alive = False


class CoalescingTransport:
    """One response's view of its connection: the status line and headers (the response's
    first write) go out with the body's first part, in one write, instead of a write and a
    TCP segment of their own (measured on a minimal app under wrk: 59-64 µs of the server's
    CPU per request against 67-73 µs, about 1 % of a purchase's). A body that does not
    follow within the same turn of the loop (a response that streams) finds the headers
    sent on the next turn."""

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._first = True
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self._flush)
            return
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class QuietServer(Server):
    """uvicorn's server, ending normally after the graceful shutdown that SIGTERM or SIGINT
    asked for (uvicorn raises the signal again, which ends the process with status 143)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


class Supervisor(Multiprocess):
    """uvicorn's supervisor of `--workers N`, which closes its own copy of the listening socket
    as soon as it is told to stop: the workers close theirs as they drain, and connections
    that nobody would accept any more are refused instead of queued and then reset."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.failed_start = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)

    def _stop(self, sig: int, _frame: FrameType | None) -> None:
        for sock in self.sockets:
            sock.close()
        self.signal_queue.append(sig)

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set() or any(sock.fileno() == -1 for sock in self.sockets):
            return
        super().keep_subprocess_alive()
        # uvicorn stops the supervisor when a worker fails its start-up.
        self.failed_start = self.should_exit.is_set()
