"""The `rujuk` command: serve, migrate, demo, token create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from rujuk.config import (
    EMBEDDED_WORKERS,
    ConfigError,
    Settings,
    configure_logging,
    load_settings,
)
from rujuk.database import Database
from rujuk.errors import DomainError, RequestError
from rujuk.runtime import Runtime

logger = logging.getLogger("rujuk")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rujuk", description="GraphQL backend for customer referral programs."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate, then serve GraphQL at /graphql")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--seed-demo", action="store_true", help="seed the demo program when the database is empty"
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(run=_migrate)

    demo = commands.add_parser("demo", help="seed the demo program 'Demo Toko'")
    demo.add_argument("--customers", type=int, default=2000, help="network size (default 2000)")
    demo.set_defaults(run=_demo)

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="create a token and print it once")
    create.add_argument("--role", choices=["ADMIN", "PARTNER"], required=True)
    create.add_argument("--program", help="the program's ID (required for PARTNER)")
    create.add_argument("--label", required=True)
    create.set_defaults(run=_token_create)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    database = Database.open(settings)
    database.migrate()
    token = asyncio.run(_prepare(settings, database.url, seed_demo=args.seed_demo))
    # uvicorn's workers build the app from the environment.
    os.environ["DATABASE_URL"] = database.url
    if settings.embedded:
        os.environ[EMBEDDED_WORKERS] = "1"
    base = f"http://{args.host}:{args.port}"
    # uvicorn re-raises the SIGTERM it caught once it has shut down; exiting through Python
    # (not the signal's default action) lets the embedded PostgreSQL stop with us.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(f"rujuk: GraphiQL at {base}/graphql", flush=True)
    if token is not None:
        print(f"rujuk: admin token (header Authorization: Bearer ...): {token}", flush=True)
    uvicorn.run(
        "rujuk.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        ws="websockets-sansio",
    )
    return 0


def _exit_on_sigterm(_signal: int, _frame: object) -> None:
    raise SystemExit(128 + signal.SIGTERM)


async def _prepare(settings: Settings, url: str, *, seed_demo: bool) -> str | None:
    """Seed the demo when asked and empty; in development, the admin token to print."""
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
        if settings.admin_token is not None:
            return settings.admin_token
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


def _token_create(settings: Settings, args: argparse.Namespace) -> int:
    from rujuk import ids
    from rujuk.services import tokens

    if args.role == "PARTNER" and args.program is None:
        raise ConfigError("a PARTNER token needs --program")
    if args.role == "ADMIN" and args.program is not None:
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
