"""The `rujuk` command in a subprocess: --help, migrate, token create, and bad configuration."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rujuk import config
from rujuk.cli import _parser
from rujuk.database import database_url_for, drop_database, ensure_database
from rujuk.db.pool import connect
from tests.fixtures import create_program
from tests.graphql_client import GraphQLClient
from tests.servers import running_server

RUJUK = Path(sys.executable).parent / "rujuk"


@dataclass(frozen=True, slots=True)
class Run:
    code: int
    out: str
    err: str


async def rujuk(*args: str, database_url: str | None, tmp_path: Path, **env: str) -> Run:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RUJUK_", "DATABASE_"))}
    environ.update(RUJUK_DATA_DIR=str(tmp_path / "data"), **env)
    if database_url is not None:
        environ["DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        str(RUJUK),
        *args,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    """A database with no tables at all."""
    name = f"cli_{uuid.uuid4().hex[:12]}"
    await ensure_database(server_url, name)
    url = database_url_for(server_url, name)
    yield url
    await drop_database(server_url, url)


async def test_help_lists_the_commands(tmp_path: Path) -> None:
    run = await rujuk("--help", database_url=None, tmp_path=tmp_path)
    assert run.code == 0
    for command in ("serve", "migrate", "demo", "token"):
        assert command in run.out
    serve = await rujuk("serve", "--help", database_url=None, tmp_path=tmp_path)
    assert serve.code == 0
    for option in ("--host", "--port", "--workers"):
        assert option in serve.out
    token = await rujuk("token", "create", "--help", database_url=None, tmp_path=tmp_path)
    assert token.code == 0
    for option in ("--role", "--program", "--label"):
        assert option in token.out


def subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parser and every parser under it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += subcommands(child)
    return found


def test_every_option_says_what_it_does() -> None:
    for parser in subcommands(_parser()):
        assert parser.description or parser.prog in ("rujuk token", "rujuk persisted-queries"), (
            parser.prog
        )
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            assert action.help, f"{parser.prog} {action.option_strings} has no description"


async def test_help_shows_defaults_and_environment_variables(tmp_path: Path) -> None:
    top = await rujuk("--help", database_url=None, tmp_path=tmp_path)
    serve = await rujuk("serve", "--help", database_url=None, tmp_path=tmp_path)
    demo = await rujuk("demo", "--help", database_url=None, tmp_path=tmp_path)
    token = await rujuk("token", "create", "--help", database_url=None, tmp_path=tmp_path)
    for option, default in (("--host", "127.0.0.1"), ("--port", "8000"), ("--workers", "auto")):
        line = " ".join(serve.out.split(option, 2)[2].split("--", 1)[0].split())
        assert f"(default: {default})" in line, (option, serve.out)
    assert "(default: 2000)" in demo.out
    for text in (top.out, serve.out):
        for variable in configured_variables():
            assert variable in text, (variable, text)
    for variable in ("DATABASE_URL", "RUJUK_DATA_DIR", "RUJUK_LOG_FORMAT"):
        assert variable in demo.out
        assert variable in token.out


@pytest.mark.parametrize(
    "args",
    [
        ("serve", "--port", "99999"),
        ("serve", "--port", "65536"),
        ("serve", "--port", "0"),
        ("serve", "--port", "-1"),
        ("serve", "--port", "http"),
        ("serve", "--workers", "0"),
        ("serve", "--workers", "-2"),
        ("demo", "--customers", "0"),
    ],
)
async def test_out_of_range_options_are_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    # An unreachable database: a refusal that reached it would say so instead.
    run = await rujuk(*args, database_url="postgresql://127.0.0.1:1/rujuk", tmp_path=tmp_path)
    assert run.code == 2, run
    assert run.out == ""
    assert run.err.startswith("usage:"), run.err
    assert f"argument {args[1]}" in run.err
    assert "Traceback" not in run.err


async def test_a_busy_port_is_one_line_before_anything_starts(
    empty_database: str, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = await rujuk(
            "serve",
            "--port",
            str(port),
            database_url=empty_database,
            tmp_path=tmp_path,
            RUJUK_ADMIN_TOKEN="cli-test-admin-token-0123456789",
        )
    assert run.code == 2, run
    assert run.out == "", "no URL and no token for a server that cannot start"
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("rujuk: ")
    assert f"127.0.0.1:{port}" in lines[0]
    assert "in use" in lines[0]
    conn = await connect(empty_database)
    try:
        tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    assert tables == 0, "checked before migrating"


async def test_migrate_a_fresh_database_then_again(empty_database: str, tmp_path: Path) -> None:
    first = await rujuk("migrate", database_url=empty_database, tmp_path=tmp_path)
    assert first.code == 0, first.err
    assert "applied" in first.out
    conn = await connect(empty_database)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    finally:
        await conn.close()
    assert {"program", "customer", "referral_code", "referral", "api_token"} <= tables
    again = await rujuk("migrate", database_url=empty_database, tmp_path=tmp_path)
    assert again.code == 0, again.err
    assert again.out.strip() == "rujuk: up to date"


async def test_token_create_admin(gql: GraphQLClient, database_url: str, tmp_path: Path) -> None:
    run = await rujuk(
        "token",
        "create",
        "--role",
        "ADMIN",
        "--label",
        "ops",
        database_url=database_url,
        tmp_path=tmp_path,
    )
    assert run.code == 0, run.err
    token = run.out.strip()
    assert "\n" not in token
    assert token.startswith("rjk_")
    conn = await connect(database_url)
    try:
        row = await conn.fetchrow("SELECT token_hash, role, label, program_id FROM api_token")
    finally:
        await conn.close()
    assert row is not None
    assert bytes(row["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert (row["role"], row["label"], row["program_id"]) == ("ADMIN", "ops", None)
    program = await create_program(gql.as_token(token))
    assert program["name"] == "Toko Test"


async def test_token_create_partner(gql: GraphQLClient, database_url: str, tmp_path: Path) -> None:
    mine = await create_program(gql, name="Mine")
    other = await create_program(gql, name="Other")
    run = await rujuk(
        "token",
        "create",
        "--role",
        "PARTNER",
        "--program",
        mine["id"],
        "--label",
        "partner",
        database_url=database_url,
        tmp_path=tmp_path,
    )
    assert run.code == 0, run.err
    partner = gql.as_token(run.out.strip())
    assert (await partner.data("{ programs { name } }"))["programs"] == [{"name": "Mine"}]
    code = await partner.error_code(
        "query($id: ID!) { program(id: $id) { id } }", {"id": other["id"]}
    )
    assert code == "FORBIDDEN"


@pytest.mark.parametrize(
    "args",
    [
        ("token", "create", "--role", "PARTNER", "--label", "x"),
        ("token", "create", "--role", "PARTNER", "--program", "nonsense", "--label", "x"),
        ("token", "create", "--role", "PARTNER", "--program", "UHJvZ3JhbTo5OTk5", "--label", "x"),
        ("token", "create", "--role", "ADMIN", "--label", "   "),
        ("token", "create", "--role", "ADMIN", "--program", "UHJvZ3JhbTox", "--label", "x"),
    ],
)
async def test_token_create_refusals_are_one_line(
    database_url: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    run = await rujuk(
        *args, database_url=database_url, tmp_path=tmp_path, RUJUK_LOG_LEVEL="WARNING"
    )
    assert run.code != 0
    assert run.out == ""
    assert len(run.err.strip().splitlines()) == 1, run.err
    assert run.err.startswith("rujuk: ")
    assert "Traceback" not in run.err


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@localhost/rujuk",
        "not a url",
        "postgresql://localhost:notaport/rujuk",
        "postgresql://localhost:99999/rujuk",
        "postgresql://[::1/rujuk",
    ],
)
async def test_a_malformed_database_url_is_one_line(tmp_path: Path, url: str) -> None:
    run = await rujuk("migrate", database_url=url, tmp_path=tmp_path)
    assert run.code != 0
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert "DATABASE_URL" in lines[0] or "database" in lines[0]


@pytest.mark.parametrize(
    "command", [("migrate",), ("token", "create", "--role", "ADMIN", "--label", "x")]
)
async def test_an_unreachable_database_is_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    run = await rujuk(*command, database_url="postgresql://127.0.0.1:1/rujuk", tmp_path=tmp_path)
    assert run.code != 0
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("rujuk: cannot connect to the database")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"RUJUK_LOG_LEVEL": "LOUD"}, "RUJUK_LOG_LEVEL"),
        ({"RUJUK_ADMIN_TOKEN": "short"}, "RUJUK_ADMIN_TOKEN"),
        ({"RUJUK_CORS_ORIGINS": "https://shop.example/"}, "RUJUK_CORS_ORIGINS"),
        ({"RUJUK_DB_POOL_SIZE": "0"}, "RUJUK_DB_POOL_SIZE"),
        ({"RUJUK_DB_POOL_TIMEOUT": "soon"}, "RUJUK_DB_POOL_TIMEOUT"),
        ({"RUJUK_DB_CONNECT_TIMEOUT": "-1"}, "RUJUK_DB_CONNECT_TIMEOUT"),
        ({"RUJUK_DB_STATEMENT_TIMEOUT": "nan"}, "RUJUK_DB_STATEMENT_TIMEOUT"),
        ({"RUJUK_METRICS_TOKEN": "short"}, "RUJUK_METRICS_TOKEN"),
        ({"RUJUK_LOG_FORMAT": "xml"}, "RUJUK_LOG_FORMAT"),
    ],
)
async def test_bad_settings_are_one_line(
    database_url: str, tmp_path: Path, env: dict[str, str], says: str
) -> None:
    run = await rujuk("migrate", database_url=database_url, tmp_path=tmp_path, **env)
    assert run.code != 0
    assert len(run.err.strip().splitlines()) == 1, run.err
    assert says in run.err


async def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    for args in (("frobnicate",), ("token", "create", "--role", "OWNER", "--label", "x")):
        run = await rujuk(*args, database_url=None, tmp_path=tmp_path)
        assert run.code == 2
        assert "usage:" in run.err
        assert "Traceback" not in run.err


async def test_every_worker_logs_at_the_configured_level(database_url: str, tmp_path: Path) -> None:
    # Workers are fresh interpreters: each must set up logging itself.
    log = tmp_path / "serve.log"
    async with running_server(database_url, "cli-test-admin-token-0123456789", tmp_path, 2, "INFO"):
        # The second worker loads once the first has (the load lock): wait up to 60 s.
        for _ in range(600):
            if log.read_text(errors="replace").count("rujuk.graph.store: loaded") == 2:
                break
            await asyncio.sleep(0.1)
    assert log.read_text(errors="replace").count("rujuk.graph.store: loaded") == 2


def configured_variables() -> list[str]:
    """Every environment variable config.py reads, but those `rujuk serve` sets for its workers."""
    source = Path(config.__file__).read_text()
    internal = {config.EMBEDDED_WORKERS, config.SERVED_HOST}
    found = set(re.findall(r'"((?:RUJUK_[A-Z_]+)|DATABASE_URL)"', source))
    return sorted(found - internal)


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    rows = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert "RUJUK_DB_POOL_SIZE" in configured_variables()
    assert sorted(set(configured_variables()) - rows) == []
