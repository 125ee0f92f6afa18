"""Queries for the right of access: everything stored about one customer."""

from __future__ import annotations

from typing import Any

from rujuk.db.pool import Connection
from rujuk.records import Purchase, Reward

_PURCHASE = "id, program_id, customer_id, order_id, amount, refunded_amount, occurred_at"
_REWARD = (
    "id, program_id, purchase_id, beneficiary_id, kind, level, rate, tier, first_amount, amount,"
    " status, created_at, available_at, path"
)


def _purchase(row: Any) -> Purchase:
    return Purchase(**{k: row[k] for k in Purchase.__slots__})


def _reward(row: Any) -> Reward:
    values = {k: row[k] for k in Reward.__slots__}
    values["path"] = tuple(values["path"])
    return Reward(**values)


async def device_id(conn: Connection, customer_id: int) -> str | None:
    """The device fingerprint the partner sent at sign-up (not part of the Customer record)."""
    value: str | None = await conn.fetchval(
        "SELECT device_id FROM customer WHERE id = $1", customer_id
    )
    return value


async def purchases_of(conn: Connection, customer_id: int) -> list[Purchase]:
    """Every purchase the customer made, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_PURCHASE} FROM purchase WHERE customer_id = $1 ORDER BY occurred_at, id",
        customer_id,
    )
    return [_purchase(r) for r in rows]


async def rewards_of(conn: Connection, beneficiary_id: int) -> list[Reward]:
    """Every reward paid to the customer, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_REWARD} FROM reward WHERE beneficiary_id = $1 ORDER BY id", beneficiary_id
    )
    return [_reward(r) for r in rows]
