"""The `rujuk` command: serve, migrate, demo, token create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rujuk import metrics
from rujuk.config import (
    EMBEDDED_WORKERS,
    SERVED_HOST,
    ConfigError,
    Settings,
    available_cores,
    database_is_local,
    default_workers,
    load_settings,
)
from rujuk.database import Database
from rujuk.errors import DomainError, RequestError
from rujuk.logs import configure_logging, logging_config
from rujuk.services.runtime import Runtime
from rujuk.vocabulary import TokenRole

logger = logging.getLogger("rujuk")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, settings.log_format)
        result: int = args.run(settings, args)
        return result
    except ConfigError as error:
        print(f"rujuk: {error}", file=sys.stderr)
        return 2
    except (DomainError, RequestError) as error:
        print(f"rujuk: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


# What each command reads from its environment, for --help (README's table says more).
ENVIRONMENT = {
    "DATABASE_URL": "PostgreSQL URL; unset: an embedded PostgreSQL in RUJUK_DATA_DIR/pgdata",
    "RUJUK_DATA_DIR": "embedded database and development admin token (default: ./.rujuk)",
    "RUJUK_ADMIN_TOKEN": "accepted as an ADMIN token (16+ characters; default: unset)",
    "RUJUK_LOG_LEVEL": "CRITICAL, ERROR, WARNING, INFO or DEBUG (default: INFO)",
    "RUJUK_LOG_FORMAT": "text: readable lines; json: one JSON object per line (default: text)",
    "RUJUK_METRICS_TOKEN": "Bearer token GET /metrics requires (16+ characters; default: unset,"
    " /metrics answers loopback clients only)",
    "RUJUK_CORS_ORIGINS": "browser origins allowed to call /graphql, comma-separated, or *"
    " (default: none)",
    "RUJUK_MAX_QUERY_COST": "costlier operations are refused (default: 50000)",
    "RUJUK_RATE_LIMIT_COST_PER_MINUTE": "query cost each caller may spend (default: 200000)",
    "RUJUK_MAX_BODY_BYTES": "larger request bodies are refused (default: 1048576)",
    "RUJUK_PERSISTED_QUERIES": "auto: Apollo's automatic persisted queries; only: only the"
    " documents of `rujuk persisted-queries add` run (default: auto)",
    "RUJUK_SHUTDOWN_GRACE_SECONDS": "on SIGTERM, seconds for requests in flight to finish"
    " (default: 10)",
    "RUJUK_DB_POOL_SIZE": "database connections per worker (default: 10)",
    "RUJUK_DB_POOL_TIMEOUT": "seconds a request waits for a free connection (default: 5)",
    "RUJUK_DB_CONNECT_TIMEOUT": "seconds to open a database connection (default: 5)",
    "RUJUK_DB_STATEMENT_TIMEOUT": "seconds one statement may run (default: 10)",
    "RUJUK_WEBHOOKS_ALLOW_PRIVATE": "1: webhook endpoints may be http:// and private addresses"
    " (development and tests only; default: 0)",
}
DATABASE_ENVIRONMENT = ("DATABASE_URL", "RUJUK_DATA_DIR", "RUJUK_LOG_LEVEL", "RUJUK_LOG_FORMAT")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's default after its description (none for options without one), and the
    environment list as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.required:
            return action.help
        return super()._get_help_string(action)


def _environment(names: Sequence[str]) -> str:
    lines = [
        textwrap.fill(
            ENVIRONMENT[name],
            78,
            initial_indent=f"  {name}: ",
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
        for name in names
    ]
    return "environment variables:\n" + "\n".join(lines)


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer from low to high (or above low)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            limits = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: {limits}")
        return value

    return parse


def _worker_count(text: str) -> int | None:
    """--workers: a whole number from 1, or "auto" (None: config.default_workers decides)."""
    return None if text == "auto" else _whole_number(1)(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rujuk",
        description="GraphQL backend for customer referral programs.",
        epilog=_environment(list(ENVIRONMENT)),
        formatter_class=_HelpFormatter,
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(
        on: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        what: str,
        environment: Sequence[str] = DATABASE_ENVIRONMENT,
    ) -> argparse.ArgumentParser:
        return on.add_parser(
            name,
            help=what,
            description=what[0].upper() + what[1:] + ".",
            epilog=_environment(environment),
            formatter_class=_HelpFormatter,
        )

    serve = command(commands, "serve", "migrate, then serve GraphQL at /graphql", list(ENVIRONMENT))
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; on any but a loopback address the console does not fill in"
        " the development admin token",
    )
    serve.add_argument(
        "--port", type=_whole_number(1, 65535), default=8000, help="TCP port to listen on"
    )
    serve.add_argument(
        "--workers",
        type=_worker_count,
        default="auto",
        help="worker processes, each holding every program's graph (default: one per core"
        " left over by PostgreSQL: half the cores when it runs on this machine, else all)",
    )
    serve.add_argument(
        "--seed-demo",
        action="store_true",
        help='seed the demo program "Demo Toko" when the database has no program',
    )
    serve.set_defaults(run=_serve)

    migrate = command(commands, "migrate", "apply pending database migrations")
    migrate.set_defaults(run=_migrate)

    demo = command(commands, "demo", "seed the demo program 'Demo Toko'")
    demo.add_argument(
        "--customers",
        type=_whole_number(1),
        default=2000,
        help="network size: customers, with their referrals and purchases",
    )
    demo.set_defaults(run=_demo)

    _add_backup_commands(commands, command)

    token = commands.add_parser("token", help="API tokens", formatter_class=_HelpFormatter)
    token_commands = token.add_subparsers(required=True, metavar="ACTION")
    create = command(token_commands, "create", "create an API token and print it once")
    create.add_argument(
        "--role",
        choices=[r.value for r in TokenRole],
        required=True,
        help="ADMIN: everything, every program; PARTNER: one program's operations",
    )
    create.add_argument("--program", help="the program's ID (required for PARTNER)")
    create.add_argument(
        "--label", required=True, help="what the token is for, listed by apiTokens (1-200 chars)"
    )
    create.set_defaults(run=_token_create)

    persisted = commands.add_parser(
        "persisted-queries",
        help="documents that run by hash (with RUJUK_PERSISTED_QUERIES=only, the only ones)",
        formatter_class=_HelpFormatter,
    )
    persisted_commands = persisted.add_subparsers(required=True, metavar="ACTION")
    add = command(
        persisted_commands,
        "add",
        "register the documents of files, stored in PostgreSQL, and print each one's hash",
    )
    add.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="an Apollo persisted-query manifest (JSON), or one document: the file's exact text",
    )
    add.set_defaults(run=_persisted_queries_add)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from rujuk import lifecycle

    if args.workers is None:
        args.workers = default_workers(available_cores(), database_is_local(settings))

    # Listening first: a port in use ends the start before it opens the database.
    sock = lifecycle.listen(args.host, args.port)
    try:
        database = Database.open(settings)
    except BaseException:
        sock.close()
        raise
    try:
        started = _serve_on(settings, args, database, sock)
    except BaseException:
        database.failed()
        raise
    if not started:
        database.failed()
        print("rujuk: the server did not start (see the log above)", file=sys.stderr)
        return 1
    return 0


def _serve_on(
    settings: Settings, args: argparse.Namespace, database: Database, sock: socket.socket
) -> bool:
    """Migrate, prepare and serve on the bound socket until a signal has drained it; whether
    the server started."""
    import uvicorn

    from rujuk import lifecycle
    from rujuk.console import is_loopback
    from rujuk.services.tokens import DEVELOPMENT_TOKEN_FILE

    database.migrate()
    token = asyncio.run(_prepare(settings, database.url, seed_demo=args.seed_demo))
    # uvicorn's workers build the app from the environment.
    os.environ["DATABASE_URL"] = database.url
    if settings.embedded:
        os.environ[EMBEDDED_WORKERS] = "1"
    os.environ[SERVED_HOST] = args.host
    base = f"http://{args.host}:{args.port}"
    # Until the server takes over SIGTERM (and after it), exiting through Python rather than
    # the signal's default action lets the embedded PostgreSQL stop with us.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(f"rujuk: GraphiQL at {base}/graphql", flush=True)
    if settings.admin_token is not None:
        print(
            "rujuk: admin token: RUJUK_ADMIN_TOKEN's (header Authorization: Bearer ...)", flush=True
        )
    elif token is None:
        print(
            "rujuk: no admin token: create one with `rujuk token create --role ADMIN --label NAME`"
            " (or set RUJUK_ADMIN_TOKEN)",
            flush=True,
        )
    else:
        print(f"rujuk: admin token (header Authorization: Bearer ...): {token}", flush=True)
    if (token or settings.admin_token) and settings.embedded and not is_loopback(args.host):
        kept = (
            ""
            if settings.admin_token
            else f" (kept in {settings.data_dir / DEVELOPMENT_TOKEN_FILE})"
        )
        print(
            f"rujuk: on {args.host}, beyond loopback, the console does not fill in the admin"
            f" token: paste it into the console's headers{kept}",
            flush=True,
        )
    config = uvicorn.Config(
        "rujuk.lifecycle:worker_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        log_config=logging_config(settings.log_level, settings.log_format),
        # rujuk logs each request itself (rujuk.access), without its query string.
        access_log=False,
        http="rujuk.compat.uvicorn:DrainingHttpProtocol",
        ws="websockets-sansio",
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    with metrics.shared_directory(args.workers):
        return lifecycle.serve(config, sock)


def _exit_on_sigterm(_signal: int, _frame: object) -> None:
    raise SystemExit(128 + signal.SIGTERM)


async def _prepare(settings: Settings, url: str, *, seed_demo: bool) -> str | None:
    """Seed the demo when asked and empty; in development, the admin token minted to print."""
    from rujuk import demo
    from rujuk.services import tokens

    # Only the token is needed here: the workers load the graphs themselves.
    runtime = await Runtime.connect(settings, url)
    try:
        if seed_demo and not await runtime.graphs.any_program():
            seeding = await Runtime.start(settings, url)
            try:
                await demo.seed_demo(seeding)
            finally:
                await seeding.close()
        # RUJUK_ADMIN_TOKEN is the operator's own: printed, it would end up in the logs.
        if settings.admin_token is not None:
            return None
        if settings.embedded:
            return await tokens.development_admin_token(runtime, settings.data_dir)
        return None
    finally:
        await runtime.close()


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    applied = Database.open(settings).migrate()
    print(f"rujuk: applied {len(applied)} migration(s)" if applied else "rujuk: up to date")
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from rujuk import demo

    database = Database.open(settings)
    database.migrate()

    async def seed() -> str:
        runtime = await Runtime.start(settings, database.url)
        try:
            return await demo.seed_demo(runtime, size=args.customers)
        finally:
            await runtime.close()

    print(f"rujuk: demo program {asyncio.run(seed())} seeded")
    return 0


def _add_backup_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Callable[
        [argparse._SubParsersAction[argparse.ArgumentParser], str, str], argparse.ArgumentParser
    ],
) -> None:
    backup = command(
        commands, "backup", "dump the database to FILE in pg_dump's custom format (rujuk may serve)"
    )
    backup.add_argument("file", metavar="FILE", type=Path, help="the backup file to write")
    backup.set_defaults(run=_backup)

    restore = command(
        commands,
        "restore",
        "restore a backup into an empty database, then migrate it (stop rujuk serve first)",
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="a file written by rujuk backup")
    restore.add_argument(
        "--force",
        action="store_true",
        help="replace the data of a database that holds some, or that others are connected to",
    )
    restore.set_defaults(run=_restore)


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    from rujuk.db import backup

    database = Database.open(settings)
    started = time.monotonic()
    backup.backup(database.url, args.file)
    size = args.file.stat().st_size
    print(f"rujuk: backed up to {args.file} ({size:,} bytes, {time.monotonic() - started:.1f} s)")
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    from rujuk.db import backup

    backup.check_backup(args.file)
    database = Database.open(settings)
    filled, others = asyncio.run(backup.contents(database.url))
    if not args.force:
        if filled:
            shown = ", ".join(filled[:5]) + (", ..." if len(filled) > 5 else "")
            raise ConfigError(
                f"the database is not empty ({shown} hold rows): restore --force replaces them"
            )
        if others:
            raise ConfigError(
                f"{others} other session(s) use the database: stop rujuk serve first"
                " (restore --force ignores them)"
            )
    started = time.monotonic()
    backup.restore(database.url, args.file)
    applied = database.migrate()
    print(
        f"rujuk: restored {args.file} ({time.monotonic() - started:.1f} s"
        + (f", then applied {len(applied)} newer migration(s))" if applied else ")")
    )
    return 0


def _token_create(settings: Settings, args: argparse.Namespace) -> int:
    from rujuk import ids
    from rujuk.services import tokens

    if args.role == TokenRole.PARTNER and args.program is None:
        raise ConfigError("a PARTNER token needs --program")
    if args.role == TokenRole.ADMIN and args.program is not None:
        raise ConfigError("an ADMIN token covers every program: drop --program")
    if not 1 <= len(args.label.strip()) <= 200:
        raise ConfigError("--label must be 1 to 200 characters")
    program_id: int | None = None
    if args.program is not None:
        program_id = ids.local_id(args.program, "Program")
        if program_id is None and args.program.isdigit():
            program_id = int(args.program)
        if program_id is None:
            raise ConfigError(f"--program {args.program!r} is not a program ID")
    database = Database.open(settings)
    database.migrate()

    async def create() -> str:
        runtime = await Runtime.connect(settings, database.url)
        try:
            return await tokens.mint_api_token(runtime, args.role, program_id, args.label)
        finally:
            await runtime.close()

    print(asyncio.run(create()))
    return 0


def _persisted_queries_add(settings: Settings, args: argparse.Namespace) -> int:
    from rujuk.db import persisted_queries as queries
    from rujuk.db.pool import create_pool
    from rujuk.persisted_queries import documents_in

    documents: list[tuple[str, str, str | None]] = []
    for name in args.files:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read {name}: {error}") from None
        documents.extend(documents_in(text))
    database = Database.open(settings)
    database.migrate()

    async def add() -> int:
        pool = await create_pool(database.url, min_size=1, max_size=1)
        try:
            return await queries.add_documents(pool, documents)
        finally:
            await pool.close()

    added = asyncio.run(add())
    for sha256, _, name in documents:
        print(f"{sha256} {name or ''}".rstrip())
    print(f"rujuk: {added} new of {len(documents)} document(s)", file=sys.stderr)
    return 0
