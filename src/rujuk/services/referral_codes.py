"""Issuing extra referral codes and checking a code before sign-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rujuk import codes as code_text
from rujuk.access import Principal
from rujuk.db import codes as code_queries
from rujuk.db import customers as customer_queries
from rujuk.errors import DomainError
from rujuk.records import ReferralCode
from rujuk.services import customers
from rujuk.services.runtime import Runtime
from rujuk.vocabulary import CodeKind

MAX_USES_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class CodeRequest:
    """What a partner asks for when issuing a code."""

    customer_id: int | None
    kind: str
    max_uses: int | None
    expires_at: datetime | None
    vanity: str | None


def is_active(code: ReferralCode, owner_erased: bool, at: datetime | None = None) -> bool:
    """A code works while its owner is not erased, it has not expired and is not used up."""
    moment = at or datetime.now(UTC)
    return (
        not owner_erased
        and (code.expires_at is None or code.expires_at > moment)
        and (code.max_uses is None or code.uses < code.max_uses)
    )


async def issue_code(runtime: Runtime, principal: Principal, request: CodeRequest) -> ReferralCode:
    """Issue a code to a customer; a vanity code taken or malformed is INVALID_CODE."""
    owner = await customers.managed_customer(runtime, principal, request.customer_id)
    if request.max_uses is not None and not 1 <= request.max_uses <= MAX_USES_LIMIT:
        raise DomainError(
            "INVALID_INPUT", f"maxUses must be between 1 and {MAX_USES_LIMIT}", "max_uses"
        )
    if request.kind == CodeKind.SINGLE_USE and request.max_uses not in (None, 1):
        raise DomainError("INVALID_INPUT", "a SINGLE_USE code has maxUses 1", "max_uses")
    if request.expires_at is not None and request.expires_at <= datetime.now(UTC):
        raise DomainError("INVALID_INPUT", "expiresAt must be in the future", "expires_at")
    vanity: str | None = None
    if request.vanity is not None:
        vanity = code_text.normalize_vanity(request.vanity)
        if vanity is None:
            raise DomainError(
                "INVALID_CODE",
                "a vanity code is 4 to 20 letters A-Z and digits",
                "vanity",
            )
    async with runtime.pool.acquire() as conn:
        max_uses = 1 if request.kind == CodeKind.SINGLE_USE else request.max_uses
        while True:
            code = await code_queries.insert_code(
                conn,
                code=vanity or code_text.new_default_code(),
                program_id=owner.program_id,
                customer_id=owner.id,
                kind=request.kind,
                max_uses=max_uses,
                expires_at=request.expires_at,
            )
            if code is not None:
                return code
            if vanity is not None:
                raise DomainError("INVALID_CODE", "this vanity code is taken", "vanity")


async def look_up_code(runtime: Runtime, typed: str) -> tuple[ReferralCode, bool] | None:
    """Public: the code a sign-up form typed, and whether it can be used right now."""
    candidates = code_text.normalize_typed_code(typed) if len(typed) <= 64 else []
    if not candidates:
        return None
    async with runtime.pool.acquire() as conn:
        found = await code_queries.find_codes(conn, candidates)
        if not found:
            return None
        owner = await customer_queries.get_customer(conn, found[0].customer_id)
    return found[0], is_active(found[0], owner is None or owner.erased)
