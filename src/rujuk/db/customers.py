"""Queries on customers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rujuk.db.pool import Connection
from rujuk.records import Customer

_COLUMNS = "id, program_id, external_id, display_name, email, phone, channel, joined_at, erased_at"


def _customer(row: Any) -> Customer:
    return Customer(**dict(row))


async def insert_customer(
    conn: Connection,
    *,
    program_id: int,
    external_id: str,
    display_name: str,
    email: str | None,
    phone: str | None,
    device_id: str | None,
    email_key: str | None,
    phone_key: str | None,
    ip_address: str | None,
    ip_key: str | None,
    channel: str,
    joined_at: datetime,
) -> Customer:
    """Store a new customer."""
    row = await conn.fetchrow(
        f"""INSERT INTO customer (program_id, external_id, display_name, email, phone, device_id,
                                  email_key, phone_key, channel, joined_at, ip_address, ip_key)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {_COLUMNS}""",
        program_id,
        external_id,
        display_name,
        email,
        phone,
        device_id,
        email_key,
        phone_key,
        channel,
        joined_at,
        ip_address,
        ip_key,
    )
    return _customer(row)


async def get_customer(conn: Connection, customer_id: int) -> Customer | None:
    """One customer by id."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM customer WHERE id = $1", customer_id)
    return None if row is None else _customer(row)


async def get_customers(conn: Connection, customer_ids: list[int]) -> list[Customer]:
    """Customers by id, in no particular order (missing ids are left out)."""
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM customer WHERE id = ANY($1)", customer_ids)
    return [_customer(r) for r in rows]


async def find_customer(conn: Connection, program_id: int, external_id: str) -> Customer | None:
    """One customer by the partner's own ID."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM customer WHERE program_id = $1 AND external_id = $2",
        program_id,
        external_id,
    )
    return None if row is None else _customer(row)


async def contact_owners(
    conn: Connection,
    customer_ids: list[int],
    *,
    email_key: str | None,
    phone_key: str | None,
    device_id: str | None,
) -> bool:
    """Whether any of these customers has this normalized e-mail, phone or device."""
    found = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM customer WHERE id = ANY($1)
               AND (email_key = $2 OR phone_key = $3 OR device_id = $4))""",
        customer_ids,
        email_key,
        phone_key,
        device_id,
    )
    return bool(found)


async def shared_contacts(
    conn: Connection,
    program_id: int,
    *,
    email_key: str | None,
    phone_key: str | None,
    device_id: str | None,
) -> tuple[bool, bool]:
    """Whether another customer of the program has (this device, this e-mail or phone)."""
    row = await conn.fetchrow(
        """SELECT
             EXISTS (SELECT 1 FROM customer WHERE program_id = $1 AND device_id = $4) AS device,
             EXISTS (SELECT 1 FROM customer WHERE program_id = $1 AND email_key = $2)
             OR EXISTS (SELECT 1 FROM customer WHERE program_id = $1 AND phone_key = $3)
               AS contact""",
        program_id,
        email_key,
        phone_key,
        device_id,
    )
    assert row is not None  # a SELECT without FROM returns one row
    return bool(row["device"]), bool(row["contact"])


async def referred_sign_ups_from(
    conn: Connection, program_id: int, ip_key: str, since: datetime, until: datetime
) -> int:
    """How many of the program's customers who joined with a code in [since, until] signed up
    from this IP key (customer_ip_key, then each one's link by its unique referee)."""
    count = await conn.fetchval(
        """SELECT count(*) FROM customer c JOIN referral r ON r.referee_id = c.id
           WHERE c.program_id = $1 AND c.ip_key = $2 AND c.joined_at BETWEEN $3 AND $4""",
        program_id,
        ip_key,
        since,
        until,
    )
    return int(count)


ERASED_NAME = "Erased customer"


async def erase(conn: Connection, customer_id: int, at: datetime) -> Customer:
    """Wipe a customer's personal data (name, e-mail, phone, device, IP and their fraud keys)."""
    row = await conn.fetchrow(
        f"""UPDATE customer
            SET display_name = $2, email = NULL, phone = NULL, device_id = NULL,
                email_key = NULL, phone_key = NULL, ip_address = NULL, ip_key = NULL,
                erased_at = $3
            WHERE id = $1 RETURNING {_COLUMNS}""",
        customer_id,
        ERASED_NAME,
        at,
    )
    # A reviewer's note on the customer's own link may quote their contacts.
    await conn.execute("UPDATE referral SET review_note = NULL WHERE referee_id = $1", customer_id)
    return _customer(row)
