"""Queries for the right of access: everything stored about one customer."""

from __future__ import annotations

from rujuk.db.pool import Connection
from rujuk.db.purchases import (
    PURCHASE_COLUMNS,
    REWARD_COLUMNS,
    purchase_from_row,
    reward_from_row,
)
from rujuk.records import Purchase, Reward


async def sign_up_details(conn: Connection, customer_id: int) -> tuple[str | None, str | None]:
    """The device fingerprint and client IP the partner sent at sign-up (not part of the
    Customer record)."""
    row = await conn.fetchrow(
        "SELECT device_id, ip_address FROM customer WHERE id = $1", customer_id
    )
    return (None, None) if row is None else (row["device_id"], row["ip_address"])


async def purchases_of(conn: Connection, customer_id: int) -> list[Purchase]:
    """Every purchase the customer made, oldest first."""
    rows = await conn.fetch(
        f"SELECT {PURCHASE_COLUMNS} FROM purchase WHERE customer_id = $1 ORDER BY occurred_at, id",
        customer_id,
    )
    return [purchase_from_row(r) for r in rows]


async def rewards_of(conn: Connection, beneficiary_id: int) -> list[Reward]:
    """Every reward paid to the customer, oldest first."""
    rows = await conn.fetch(
        f"SELECT {REWARD_COLUMNS} FROM reward WHERE beneficiary_id = $1 ORDER BY id", beneficiary_id
    )
    return [reward_from_row(r) for r in rows]
