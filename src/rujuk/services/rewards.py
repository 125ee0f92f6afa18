"""Reading the ledger: a customer's rewards and balance, a purchase's rewards."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rujuk.access import Principal
from rujuk.db import purchases as purchase_queries
from rujuk.db.pool import Reader
from rujuk.pagination import Page, check_page_size, decode_cursor, encode_cursor
from rujuk.records import Customer, Purchase, Reward
from rujuk.services.runtime import Runtime

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Balance:
    """A customer's rewards summed by status; reversed is what refunds and reversals took back."""

    pending: Decimal
    approved: Decimal
    reversed: Decimal


async def customer_rewards(
    db: Reader,
    principal: Principal,
    customer: Customer,
    status: str | None,
    first: int,
    after: str | None,
) -> Page[Reward]:
    """The customer's rewards, newest first, one page."""
    principal.require_details(customer.program_id, customer.id)
    check_page_size(first)
    before = None if after is None else decode_cursor(after)
    rewards, total = await db.run(
        lambda conn: purchase_queries.rewards_of(conn, customer.id, status, first + 1, before)
    )
    return Page(
        items=[(encode_cursor(r.id), r) for r in rewards[:first]],
        has_next_page=len(rewards) > first,
        total_count=total,
    )


async def balances(db: Reader, customer_ids: list[int]) -> list[Balance]:
    """Each customer's balance, in the order asked (for batch loading; no rights checked here)."""
    found = await db.run(lambda conn: purchase_queries.balance(conn, customer_ids))
    return [Balance(*found.get(i, (ZERO, ZERO, ZERO))) for i in customer_ids]


def check_reward_visible(principal: Principal, reward: Reward) -> None:
    """A reward is seen by its program's managers and by its beneficiary."""
    principal.require_details(reward.program_id, reward.beneficiary_id)


def visible_rewards(principal: Principal, rewards: list[Reward]) -> list[Reward]:
    """The rewards of a purchase the caller may see: all for managers, else their own."""
    return [r for r in rewards if principal.sees_details_of(r.program_id, r.beneficiary_id)]


def check_purchase_visible(principal: Principal, purchase: Purchase, via_reward: bool) -> None:
    """Managers and the purchaser see a purchase; a beneficiary sees the purchase that paid it."""
    if via_reward:
        return
    principal.require_details(purchase.program_id, purchase.customer_id)


async def load_purchases(db: Reader, purchase_ids: list[int]) -> list[Purchase | None]:
    """Purchases by id in the order asked (for batch loading)."""
    rows = await db.run(lambda conn: purchase_queries.get_purchases(conn, purchase_ids))
    found = {p.id: p for p in rows}
    return [found.get(i) for i in purchase_ids]


async def load_purchase_rewards(db: Reader, purchase_ids: list[int]) -> list[list[Reward]]:
    """Each purchase's rewards (commissions shallowest first, then welcome), in the order asked."""
    rewards = await db.run(lambda conn: purchase_queries.purchase_rewards(conn, purchase_ids))
    by_purchase: dict[int, list[Reward]] = {i: [] for i in purchase_ids}
    for reward in rewards:
        by_purchase[reward.purchase_id].append(reward)
    return [by_purchase[i] for i in purchase_ids]


async def find_reward(runtime: Runtime, principal: Principal, reward_id: int) -> Reward | None:
    """One reward, for its managers and its beneficiary."""
    principal.require_authenticated()
    found = await purchase_queries.get_rewards(runtime.pool, [reward_id])
    if found:
        check_reward_visible(principal, found[0])
    return found[0] if found else None


async def find_purchase(
    runtime: Runtime, principal: Principal, purchase_id: int
) -> Purchase | None:
    """One purchase, for its managers and its purchaser."""
    principal.require_authenticated()
    found = await purchase_queries.get_purchases(runtime.pool, [purchase_id])
    if found:
        check_purchase_visible(principal, found[0], via_reward=False)
    return found[0] if found else None
