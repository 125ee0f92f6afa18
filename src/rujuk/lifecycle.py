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
from typing import Any

from uvicorn import Config

from rujuk.compat.uvicorn import QuietServer, Supervisor
from rujuk.config import ConfigError

# Set by `rujuk serve --workers N` for its workers: the pid they must not outlive.
PARENT_PID = "RUJUK_PARENT_PID"
# linux/prctl.h
PR_SET_PDEATHSIG = 1
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
