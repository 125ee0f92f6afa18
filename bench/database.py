"""The bench's own PostgreSQL: an embedded server in a temporary directory, or a given URL."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from rujuk.database import migrated_database
from rujuk.db.embedded import embedded_url, start_embedded

BENCH_URL_VARIABLE = "RUJUK_BENCH_DATABASE_URL"


@contextlib.contextmanager
def bench_server() -> Iterator[str]:
    """The maintenance URL of a server the bench may create databases on.

    Never the developer's .rujuk: either RUJUK_BENCH_DATABASE_URL or a throw-away embedded
    server whose data directory is deleted at the end.
    """
    url = os.environ.get(BENCH_URL_VARIABLE)
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="rujuk-bench-") as folder:
        server = start_embedded(Path(folder))
        try:
            yield embedded_url(server, "postgres")
        finally:
            server.cleanup()


async def fresh_database(server_url: str) -> str:
    """A new, migrated database named for this run; its URL."""
    return await migrated_database(server_url, f"rujuk_bench_{uuid.uuid4().hex[:8]}")
