"""Program-wide lists (rewards.md, "Program-wide lists"): every referral and every reward of a
program, newest first; the review queue is the FLAGGED referrals."""

from __future__ import annotations

from rujuk.access import Principal
from rujuk.db import purchases as purchase_queries
from rujuk.db import referrals as referral_queries
from rujuk.pagination import Slice, check_page_size, decode_keyset_cursor, encode_keyset_cursor
from rujuk.records import Program, Referral, Reward
from rujuk.services.runtime import Runtime


async def program_referrals(
    runtime: Runtime,
    principal: Principal,
    program: Program,
    status: str | None,
    first: int,
    after: str | None,
) -> Slice[Referral]:
    """One page of the program's referrals (of this status), newest first: ADMIN or PARTNER."""
    principal.require_manager(program.id)
    check_page_size(first)
    before = None if after is None else decode_keyset_cursor(after)
    found = await referral_queries.program_referrals(
        runtime.pool, program.id, status, first + 1, before
    )
    return Slice(
        items=[(encode_keyset_cursor(r.created_at, r.id), r) for r in found[:first]],
        has_next_page=len(found) > first,
    )


async def count_program_referrals(
    runtime: Runtime, principal: Principal, program: Program, status: str | None
) -> int:
    """How many referrals the program has (of this status): ADMIN or PARTNER."""
    principal.require_manager(program.id)
    return await referral_queries.count_program_referrals(runtime.pool, program.id, status)


async def program_rewards(
    runtime: Runtime,
    principal: Principal,
    program: Program,
    status: str | None,
    kind: str | None,
    first: int,
    after: str | None,
) -> Slice[Reward]:
    """One page of the program's rewards (of this status and kind), newest first."""
    principal.require_manager(program.id)
    check_page_size(first)
    before = None if after is None else decode_keyset_cursor(after)
    found = await purchase_queries.program_rewards(
        runtime.pool, program.id, status, kind, first + 1, before
    )
    return Slice(
        items=[(encode_keyset_cursor(r.created_at, r.id), r) for r in found[:first]],
        has_next_page=len(found) > first,
    )


async def count_program_rewards(
    runtime: Runtime, principal: Principal, program: Program, status: str | None, kind: str | None
) -> int:
    """How many rewards the program has (of this status and kind): ADMIN or PARTNER."""
    principal.require_manager(program.id)
    return await purchase_queries.count_program_rewards(runtime.pool, program.id, status, kind)
