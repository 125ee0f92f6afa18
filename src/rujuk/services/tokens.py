"""API tokens (ADMIN, PARTNER) and signed customer tokens; resolving a bearer token to a caller."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rujuk.access import ANONYMOUS, Principal, Role
from rujuk.db import customers as customer_queries
from rujuk.db import programs as program_queries
from rujuk.db import tokens as token_queries
from rujuk.errors import DomainError, Forbidden, Unauthenticated
from rujuk.records import ApiToken, Customer
from rujuk.services import customers
from rujuk.services.runtime import Runtime
from rujuk.vocabulary import TokenRole

API_TOKEN_PREFIX = "rjk_"
CUSTOMER_TOKEN_PREFIX = "rjc_"
DEFAULT_CUSTOMER_TOKEN_TTL = 3600
MAX_CUSTOMER_TOKEN_TTL = 30 * 24 * 3600
MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True, slots=True)
class MintedToken:
    """A new API token (shown once) and what is stored about it."""

    token: str
    record: ApiToken


@dataclass(frozen=True, slots=True)
class CustomerToken:
    """A freshly signed customer token and when it stops working."""

    token: str
    expires_at: datetime


def token_hash(token: str) -> bytes:
    """What is stored of an API token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


@functools.lru_cache(maxsize=1)
def _admin_hash(admin_token: str) -> bytes:
    """RUJUK_ADMIN_TOKEN's hash, taken once rather than at every request."""
    return token_hash(admin_token)


async def create_api_token(
    runtime: Runtime, principal: Principal, role: str, program_id: int | None, label: str
) -> MintedToken:
    """Mint an ADMIN or PARTNER token (ADMIN only); the token is returned once, its hash stored."""
    principal.require_admin()
    return await _mint(runtime, role, program_id, label)


async def mint_api_token(runtime: Runtime, role: str, program_id: int | None, label: str) -> str:
    """Mint a token without a caller (the CLI and `make serve` do this)."""
    return (await _mint(runtime, role, program_id, label)).token


async def list_api_tokens(runtime: Runtime, principal: Principal) -> list[ApiToken]:
    """ADMIN: every token; PARTNER: its own program's tokens. Never the token or its hash."""
    principal.require_authenticated()
    if principal.is_admin:
        return await token_queries.list_api_tokens(runtime.pool, None)
    if principal.role is Role.PARTNER and principal.program_id is not None:
        return await token_queries.list_api_tokens(runtime.pool, principal.program_id)
    raise Forbidden("this operation needs an ADMIN or PARTNER token")


async def revoke_api_token(
    runtime: Runtime, principal: Principal, token_id: int | None
) -> ApiToken:
    """Revoke a token for good: ADMIN any, a PARTNER its own program's (to retire a leaked key)."""
    principal.require_authenticated()
    if principal.role not in (Role.ADMIN, Role.PARTNER):
        raise Forbidden("this operation needs an ADMIN or PARTNER token")
    unknown = DomainError("NOT_FOUND", "no such API token", "id")
    if token_id is None:
        raise unknown
    found = await token_queries.get_api_token(runtime.pool, token_id)
    if found is None:
        raise unknown
    if not principal.is_admin and (found.role != TokenRole.PARTNER or found.program_id is None):
        raise Forbidden("a PARTNER token may revoke only its own program's PARTNER tokens")
    if found.program_id is not None:
        principal.require_manager(found.program_id)
    revoked = await token_queries.revoke_api_token(runtime.pool, token_id)
    assert revoked is not None  # tokens are never deleted
    runtime.callers.clear()
    return revoked


async def _mint(runtime: Runtime, role: str, program_id: int | None, label: str) -> MintedToken:
    if not 1 <= len(label.strip()) <= 200:
        raise DomainError("INVALID_INPUT", "label must be 1 to 200 characters", "label")
    if role == TokenRole.PARTNER:
        if program_id is None:
            raise DomainError("UNKNOWN_PROGRAM", "a PARTNER token needs a programId", "program_id")
        async with runtime.pool.acquire() as conn:
            if await program_queries.get_program(conn, program_id) is None:
                raise DomainError("UNKNOWN_PROGRAM", "no such program", "program_id")
    elif program_id is not None:
        raise DomainError("INVALID_INPUT", "an ADMIN token covers every program", "program_id")
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = await token_queries.insert_api_token(
        runtime.pool,
        token_hash=token_hash(token),
        role=role,
        program_id=program_id,
        label=label.strip(),
    )
    return MintedToken(token, record)


async def issue_customer_token(
    runtime: Runtime, principal: Principal, customer_id: int | None, ttl_seconds: int | None
) -> CustomerToken:
    """Sign a token for one customer's dashboard (ADMIN or the program's PARTNER)."""
    principal.require_authenticated()
    ttl = DEFAULT_CUSTOMER_TOKEN_TTL if ttl_seconds is None else ttl_seconds
    if not 60 <= ttl <= MAX_CUSTOMER_TOKEN_TTL:
        raise DomainError(
            "INVALID_INPUT",
            f"ttlSeconds must be between 60 and {MAX_CUSTOMER_TOKEN_TTL}",
            "ttl_seconds",
        )
    customer = await customers.managed_customer(runtime, principal, customer_id)
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=ttl)
    claims = {"c": customer.id, "p": customer.program_id, "e": int(expires_at.timestamp())}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return CustomerToken(CUSTOMER_TOKEN_PREFIX + body + "." + _sign(runtime, body), expires_at)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is behind a request's token, and the customer its check has just read: a
    CUSTOMER token's own customer when the cache of callers did not answer (else None),
    which the request need not read again."""

    principal: Principal
    customer: Customer | None = None


async def principal_for(runtime: Runtime, authorization: str | None) -> Principal:
    """The caller behind an Authorization header; raise Unauthenticated for a bad token."""
    return (await caller_for(runtime, authorization)).principal


async def caller_for(runtime: Runtime, authorization: str | None) -> Caller:
    """The caller behind an Authorization header, with the customer its check read;
    raise Unauthenticated for a bad token."""
    if authorization is None or not authorization.strip():
        return Caller(ANONYMOUS)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("the Authorization header must be `Bearer <token>`")
    admin = runtime.settings.admin_token
    key = token_hash(token)
    if admin is not None and hmac.compare_digest(key, _admin_hash(admin)):
        return Caller(Principal(Role.ADMIN))
    known = runtime.callers.get(key)
    if known is not None:
        return Caller(known)
    expires_at: float | None = None
    customer: Customer | None = None
    if token.startswith(CUSTOMER_TOKEN_PREFIX):
        principal, expires_at, customer = await _customer_principal(
            runtime, token.removeprefix(CUSTOMER_TOKEN_PREFIX)
        )
    else:
        stored = await token_queries.find_api_token(runtime.pool, key)
        if stored is None:
            raise Unauthenticated("unknown or revoked token")
        principal = Principal(Role(stored.role), program_id=stored.program_id, token_id=stored.id)
    runtime.callers.put(key, principal, expires_at)
    return Caller(principal, customer)


async def _customer_principal(runtime: Runtime, signed: str) -> tuple[Principal, float, Customer]:
    body, _, signature = signed.partition(".")
    # Compared as bytes: a header may carry non-ASCII text, which compare_digest refuses as str.
    if not hmac.compare_digest(_sign(runtime, body).encode(), signature.encode()):
        raise Unauthenticated("invalid customer token")
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if not all(isinstance(claims.get(k), int) for k in ("c", "p", "e")):
            raise ValueError("missing claims")
    except (ValueError, TypeError, AttributeError):
        raise Unauthenticated("invalid customer token") from None
    if claims["e"] <= datetime.now(UTC).timestamp():
        raise Unauthenticated("this customer token has expired")
    async with runtime.pool.acquire() as conn:
        customer = await customer_queries.get_customer(conn, claims["c"])
    if customer is None or customer.erased:
        raise Unauthenticated("this customer token no longer works")
    customer_principal = Principal(Role.CUSTOMER, program_id=claims["p"], customer_id=claims["c"])
    return customer_principal, float(claims["e"]), customer


def _sign(runtime: Runtime, body: str) -> str:
    return _b64(hmac.new(runtime.signing_key, body.encode(), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


DEVELOPMENT_TOKEN_FILE = "admin-token"


async def development_token(data_dir: Path) -> str | None:
    """The development ADMIN token that `rujuk serve` keeps in the data directory, if any."""
    return await asyncio.to_thread(_read_token_file, data_dir / DEVELOPMENT_TOKEN_FILE)


async def development_admin_token(runtime: Runtime, data_dir: Path) -> str:
    """The ADMIN token `make serve` prints, kept in the data directory across restarts."""
    path = data_dir / DEVELOPMENT_TOKEN_FILE
    token = await asyncio.to_thread(_read_token_file, path)
    if token is not None:
        stored = await token_queries.find_api_token(runtime.pool, token_hash(token))
        if stored is not None and stored.role == TokenRole.ADMIN:
            return token
    token = await mint_api_token(runtime, TokenRole.ADMIN, None, "development (make serve)")
    await asyncio.to_thread(_write_token_file, path, token)
    return token


def _read_token_file(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


def _write_token_file(path: Path, token: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(0o600)
