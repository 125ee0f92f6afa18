"""What rujuk.compat.uvicorn assumes of uvicorn's protocol, server and supervisor (the
processes themselves are exercised in tests/reliability/test_lifecycle.py)."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn import Config, Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from rujuk.compat.uvicorn import (
    IDLE_LINGER_SECONDS,
    DrainingHttpProtocol,
    QuietServer,
    Supervisor,
)


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class Transport(asyncio.Transport):
    """A connection's transport that records what the protocol does to it."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.written = b""
        self.writes: list[bytes] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)
        self.writes.append(bytes(data))


async def streaming(scope: Any, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await asyncio.sleep(0.05)
    await send({"type": "http.response.body", "body": b"late"})


def connection(
    protocol: type[HttpToolsProtocol], application: Any = app
) -> tuple[HttpToolsProtocol, Transport]:
    config = Config(app=application, http=protocol, timeout_keep_alive=5, log_level="warning")
    config.load()
    connected = protocol(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    connected.connection_made(transport)
    return connected, transport


async def test_uvicorn_closes_an_idle_connection_at_shutdown() -> None:
    # Why the subclass exists: a request its client is sending meets a reset.
    protocol, transport = connection(HttpToolsProtocol)
    protocol.shutdown()
    assert transport.closed


async def test_an_idle_connection_lingers_at_shutdown_and_then_closes() -> None:
    protocol, transport = connection(DrainingHttpProtocol)
    protocol.shutdown()
    assert not transport.closed
    timer = protocol.timeout_keep_alive_task
    assert timer is not None
    assert timer.when() - asyncio.get_running_loop().time() <= IDLE_LINGER_SECONDS
    timer.cancel()
    protocol.timeout_keep_alive_handler()
    assert transport.closed


async def test_a_request_during_the_drain_is_answered_with_connection_close() -> None:
    protocol, transport = connection(DrainingHttpProtocol)
    protocol.shutdown()
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: rujuk\r\n\r\n")
    assert protocol.cycle is not None
    assert protocol.cycle.keep_alive is False
    for _ in range(100):
        if transport.closed:
            break
        await asyncio.sleep(0.01)
    assert transport.written.startswith(b"HTTP/1.1 204 ")
    assert b"connection: close" in transport.written.lower()
    assert transport.closed


async def answered(transport: Transport, ending: bytes) -> None:
    for _ in range(100):
        if transport.written.endswith(ending):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(transport.written)


async def test_uvicorn_writes_the_headers_and_the_body_apart() -> None:
    # Why the transport is wrapped: two writes, two segments, for one small answer.
    protocol, transport = connection(HttpToolsProtocol)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: rujuk\r\n\r\n")
    await answered(transport, b"\r\n\r\n")
    await asyncio.sleep(0.01)
    assert len(transport.writes) == 2


async def test_an_answer_is_one_write_headers_and_body() -> None:
    protocol, transport = connection(DrainingHttpProtocol)
    for _ in range(2):  # keep-alive: each response of the connection
        protocol.data_received(b"GET / HTTP/1.1\r\nHost: rujuk\r\n\r\n")
        count = len(transport.writes)
        await answered(transport, b"\r\n\r\n")
        await asyncio.sleep(0.01)
        assert len(transport.writes) == count + 1
        assert transport.writes[-1].startswith(b"HTTP/1.1 204 ")


async def test_headers_go_out_at_once_when_the_body_comes_later() -> None:
    protocol, transport = connection(DrainingHttpProtocol, streaming)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: rujuk\r\n\r\n")
    for _ in range(100):
        if transport.writes:
            break
        await asyncio.sleep(0.001)
    assert transport.writes[0].startswith(b"HTTP/1.1 200 ")
    assert b"late" not in transport.written  # the headers alone, before the body
    await answered(transport, b"0\r\n\r\n")
    assert b"late" in transport.written


def test_the_server_ends_normally_after_the_signal_it_handled() -> None:
    plain, quiet = Server(Config(app=app)), QuietServer(Config(app=app))
    for server in (plain, quiet):
        server.handle_exit(signal.SIGTERM, None)
        assert server.should_exit
    # uvicorn raises the captured signals again once it has shut down.
    assert plain._captured_signals == [signal.SIGTERM]
    assert quiet._captured_signals == []


@pytest.fixture
def signal_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.usefixtures("signal_handlers")
def test_the_supervisor_closes_its_socket_when_told_to_stop() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    supervisor = Supervisor(Config(app=app, workers=2), sockets=[sock])
    assert isinstance(supervisor.should_exit, threading.Event)
    assert supervisor.signal_queue == []
    assert signal.getsignal(signal.SIGTERM) == supervisor._stop
    supervisor._stop(signal.SIGTERM, None)
    assert sock.fileno() == -1
    assert supervisor.signal_queue == [signal.SIGTERM]
    # With its socket closed it starts no worker again.
    supervisor.keep_subprocess_alive()
    assert supervisor.processes == []
    assert not supervisor.failed_start
