"""How `rujuk serve` runs its processes: it listens before it touches the database, its
workers die with it, and SIGTERM drains connections instead of resetting them.

uvicorn's own shutdown closed idle keep-alive connections at once, so a request that a client
was sending on one at that moment met a reset; with `--workers N` the parent kept its copy of
the listening socket open after the workers had closed theirs, so connections made meanwhile
were accepted by the kernel, never answered, and reset when the parent exited.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import sys
from types import FrameType
from typing import Any

from uvicorn import Config, Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess

from rujuk.config import ConfigError

# Set by `rujuk serve --workers N` for its workers: the pid they must not outlive.
PARENT_PID = "RUJUK_PARENT_PID"
# linux/prctl.h
PR_SET_PDEATHSIG = 1
# How long an idle keep-alive connection may still send a request once shutdown begins. Its
# client may be sending one at that very moment: closing at once would reset it.
IDLE_LINGER_SECONDS = 1.0
# How many connections the kernel queues before the server accepts them (uvicorn's default).
BACKLOG = 2048


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything else starts: a port in use (or an address
    this machine cannot listen on) ends the start before the database is opened, and a
    failed start must not stop a PostgreSQL that others use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # As uvicorn binds: a port that the last run left in TIME_WAIT is free.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"cannot listen on {address}: the port is in use (choose another with --port)"
            ) from None
        raise ConfigError(f"cannot listen on {address}: {error.strerror or error}") from None
    sock.set_inheritable(True)
    return sock


def serve(config: Config, sock: socket.socket) -> bool:
    """Serve on the bound socket until SIGTERM or SIGINT has drained every connection; whether
    the server started (False: the app failed its start-up)."""
    if config.workers > 1:
        os.environ[PARENT_PID] = str(os.getpid())
        supervisor = Supervisor(config, sockets=[sock])
        supervisor.run()
        return not supervisor.failed_start
    server = QuietServer(config)
    server.run(sockets=[sock])
    return server.started


def worker_app() -> Any:
    """The factory uvicorn calls in each worker: the app, in a worker that follows its parent."""
    from rujuk.app import app_from_environment

    follow_parent()
    return app_from_environment()


def follow_parent() -> None:
    """In a worker of `--workers N` on Linux, have the kernel send it SIGTERM (a graceful
    shutdown, which closes its copy of the listening socket) when its parent dies."""
    parent = os.environ.get(PARENT_PID)
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before the prctl: this process was then handed to another.
    if os.getppid() != int(parent):
        os.kill(os.getpid(), signal.SIGTERM)


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
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False


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
