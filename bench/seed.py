"""Seed one program of N customers with COPY: a referral forest, codes, links and purchases.

The forest is generated with numpy (ids in join order, so every referrer precedes its
referees), written as tab-separated text and COPYed into tables whose keys, foreign keys and
indexes were dropped first; they are recreated (and so validated) after the load, which
performance.md measured at ~6x faster than COPY with constraints live.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from rujuk.db import programs as program_queries
from rujuk.db import tokens as token_queries
from rujuk.db.pool import Connection, connect
from rujuk.records import Program, TierRule
from rujuk.services.tokens import API_TOKEN_PREFIX, token_hash

MAX_DEPTH = 32
CHANNELS = ("WHATSAPP", "INSTAGRAM", "TIKTOK", "FACEBOOK", "INFLUENCER", "EMAIL", "DIRECT", "OTHER")
CHANNEL_WEIGHTS = (34, 22, 18, 10, 6, 4, 4, 2)
TIERS = (
    TierRule("Perunggu", 0, Decimal(0), (Decimal("0.05"), Decimal("0.02"))),
    TierRule("Perak", 5, Decimal(5_000_000), (Decimal("0.07"), Decimal("0.03"), Decimal("0.01"))),
    TierRule("Emas", 20, Decimal(50_000_000), (Decimal("0.10"), Decimal("0.04"), Decimal("0.02"))),
)
# The tables COPY fills; their keys and indexes are dropped around the load.
SEEDED_TABLES = ("customer", "referral_code", "referral", "purchase")
# How many customers the mixed load's dashboards are drawn from (one token each).
VIEWERS = 1000
START = np.datetime64("2024-01-01T00:00:00", "s")

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the rest of the bench needs to know about the seeded program."""

    program_id: int
    customers: int
    links: int
    purchases: int
    max_depth: int
    partner_token: str
    # Customers at the deepest levels, for the ancestor walks and purchases.
    deep_ids: list[int]
    # Customers who referred someone: the dashboards of the mixed load (rewards and referees).
    viewer_ids: list[int]
    external_ids_sample: list[str]
    seconds: float
    generate_seconds: float
    copy_seconds: float
    constraint_seconds: float


def forest(n: int, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """Parent index (-1 for a root) and depth of n customers in join order.

    A mix that gives influencers with large fan-out, random-recursive bushes (depth ~ ln n)
    and chains of recent sign-ups; nothing deeper than MAX_DEPTH.
    """
    parent = np.full(n, -1, dtype=np.int64)
    influencers = max(10, n // 1000)
    index = np.arange(n, dtype=np.int64)
    kind = rng.choice(4, size=n, p=[0.07, 0.18, 0.30, 0.45])
    # Influencers: a power law over the first `influencers` customers (the top ones get most).
    star = (influencers * rng.random(n) ** 3).astype(np.int64)
    uniform = (rng.random(n) * index).astype(np.int64)
    recent = index - 1 - np.minimum(rng.geometric(0.25, size=n) - 1, np.maximum(index - 1, 0))
    parent = np.where(kind == 1, star, parent)
    parent = np.where(kind == 2, uniform, parent)
    parent = np.where(kind == 3, recent, parent)
    parent[:influencers] = -1
    parent[parent >= index] = -1
    # One pass in join order (parents come first): too-deep customers move under an influencer.
    parents = parent.tolist()
    stars = star.tolist()
    depth = [0] * n
    for i in range(n):
        p = parents[i]
        if p >= 0:
            d = depth[p] + 1
            if d > MAX_DEPTH:
                p = parents[i] = stars[i]
                d = 1
            depth[i] = d
    return np.array(parents, dtype=np.int64), np.array(depth, dtype=np.int64)


def _timestamps(seconds: IntArray) -> list[str]:
    """'YYYY-MM-DDTHH:MM:SS+00' text for COPY, vectorised."""
    text = np.datetime_as_string(START + seconds.astype("timedelta64[s]"), unit="s")
    return [t + "+00" for t in text.tolist()]


def _copy_text(lines: list[str]) -> io.BytesIO:
    return io.BytesIO(("\n".join(lines) + "\n").encode())


async def _drop_constraints(conn: Connection) -> list[str]:
    """Drop keys, foreign keys and indexes touching the seeded tables; the DDL to restore them.

    Foreign keys first (those of other tables that point at a seeded table's key too), then
    primary/unique keys, then plain indexes; restored in the opposite order.
    """
    tables = list(SEEDED_TABLES)
    fks = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
           FROM pg_constraint c
           WHERE c.contype = 'f' AND (c.conrelid::regclass::text = ANY($1)
                                      OR c.confrelid::regclass::text = ANY($1))""",
        tables,
    )
    keys = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
           FROM pg_constraint c
           WHERE c.contype IN ('p', 'u') AND c.conrelid::regclass::text = ANY($1)""",
        tables,
    )
    indexes = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
           FROM pg_index i
           WHERE i.indrelid::regclass::text = ANY($1)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        tables,
    )
    for r in fks:
        await conn.execute(f'ALTER TABLE {r["tbl"]} DROP CONSTRAINT "{r["conname"]}"')
    for r in keys:
        await conn.execute(f'ALTER TABLE {r["tbl"]} DROP CONSTRAINT "{r["conname"]}"')
    for r in indexes:
        await conn.execute(f"DROP INDEX {r['name']}")
    return (
        [f'ALTER TABLE {r["tbl"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}' for r in keys]
        + [str(r["def"]) for r in indexes]
        + [f'ALTER TABLE {r["tbl"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}' for r in fks]
    )


async def seed(url: str, customers: int, purchases: int, seed: int = 2026) -> Seeded:
    """Create the program and fill it; return what the measurements need."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    n = customers
    parent, depth = forest(n, rng)
    ids = np.arange(1, n + 1, dtype=np.int64)
    # Sign-ups every ~30 s on average, in id order.
    joined = np.cumsum(rng.integers(1, 60, size=n)).astype(np.int64)
    joined_text = _timestamps(joined)
    channel = rng.choice(len(CHANNELS), size=n, p=np.array(CHANNEL_WEIGHTS) / 100).tolist()
    external = [f"c{i:08d}" for i in range(1, n + 1)]
    customer_lines = [
        f"{i}\t{{program}}\t{external[i - 1]}\tCustomer {i}\t{CHANNELS[channel[i - 1]]}\t"
        f"{joined_text[i - 1]}"
        for i in range(1, n + 1)
    ]
    referees = np.flatnonzero(parent >= 0)
    referrer_index = parent[referees]
    referrers, uses = np.unique(referrer_index, return_counts=True)
    code_lines = [
        f"R{i + 1:08d}\t{{program}}\t{i + 1}\tMULTI_USE\t\\N\t{u}\t{joined_text[i]}"
        for i, u in zip(referrers.tolist(), uses.tolist(), strict=True)
    ]
    # Purchases: buyers with replacement (some buy often), amounts in whole rupiah thousands.
    buyers = rng.integers(0, n, size=purchases)
    amounts = (rng.lognormal(11.5, 1.0, size=purchases).astype(np.int64) // 1000 + 1) * 1000
    bought = joined[buyers] + rng.integers(60, 90 * 86400, size=purchases)
    bought_text = _timestamps(bought)
    purchase_lines = [
        f"{k + 1}\t{{program}}\t{b + 1}\to{k + 1:09d}\t{a}\t0\t{t}\t{t}\t1\tt"
        for k, (b, a, t) in enumerate(
            zip(buyers.tolist(), amounts.tolist(), bought_text, strict=True)
        )
    ]
    # What the purchase statement keeps on each link: the referee's spend.
    spend = np.bincount(buyers, weights=amounts, minlength=n).astype(np.int64).tolist()
    # 97% ACTIVE, 2% FLAGGED, 1% REJECTED.
    status = rng.choice(3, size=referees.size, p=[0.97, 0.02, 0.01]).tolist()
    statuses = ("ACTIVE", "FLAGGED", "REJECTED")
    link_lines = [
        f"{k + 1}\t{{program}}\t{c + 1}\t{p + 1}\tR{p + 1:08d}\t{CHANNELS[channel[c]]}\t"
        f"{statuses[s]}\t{{}}\t{joined_text[c]}\t{spend[c]}"
        for k, (c, p, s) in enumerate(
            zip(referees.tolist(), referrer_index.tolist(), status, strict=True)
        )
    ]
    generated = time.perf_counter()

    conn = await connect(url)
    try:
        program = await program_queries.insert_program(
            conn,
            Program(
                id=0,
                name="Bench Toko",
                currency="IDR",
                tiers=TIERS,
                max_payout_rate=Decimal("0.20"),
                referee_reward=Decimal(25_000),
                hold_days=14,
                compression=False,
                created_at=datetime.now(UTC),
            ),
        )
        pid = str(program.id)
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        async with conn.transaction():
            restore = await _drop_constraints(conn)
            copy_started = time.perf_counter()
            for table, columns, lines in (
                (
                    "customer",
                    ["id", "program_id", "external_id", "display_name", "channel", "joined_at"],
                    customer_lines,
                ),
                (
                    "referral_code",
                    ["code", "program_id", "customer_id", "kind", "max_uses", "uses", "created_at"],
                    code_lines,
                ),
                (
                    "referral",
                    [
                        "id",
                        "program_id",
                        "referee_id",
                        "referrer_id",
                        "code",
                        "channel",
                        "status",
                        "fraud_signals",
                        "created_at",
                        "referee_spend",
                    ],
                    link_lines,
                ),
                (
                    "purchase",
                    [
                        "id",
                        "program_id",
                        "customer_id",
                        "order_id",
                        "amount",
                        "refunded_amount",
                        "occurred_at",
                        "created_at",
                        "rules_version",
                        "eligible",
                    ],
                    purchase_lines,
                ),
            ):
                text = "\n".join(lines).replace("{program}", pid)
                # COPY writes identity columns as given (like OVERRIDING SYSTEM VALUE).
                await conn.copy_to_table(
                    table, source=io.BytesIO((text + "\n").encode()), columns=columns
                )
            copied = time.perf_counter()
            for ddl in restore:
                await conn.execute(ddl)
            for table in ("customer", "referral", "purchase"):
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT max(id) FROM {table}))"
                )
        constrained = time.perf_counter()
        # Vacuumed as a database in service would be: otherwise autovacuum visits every
        # freshly copied table during the measurements that follow, a different amount in each.
        await conn.execute("VACUUM (ANALYZE)")
        # And written out: a checkpoint of the whole seed would otherwise land in a measurement.
        await conn.execute("CHECKPOINT")
        token = API_TOKEN_PREFIX + "bench" + "x" * 40
        await token_queries.insert_api_token(
            conn,
            token_hash=token_hash(token),
            role="PARTNER",
            program_id=program.id,
            label="bench partner",
        )
    finally:
        await conn.close()
    deepest = np.argsort(-depth, kind="stable")[:1000]
    return Seeded(
        program_id=program.id,
        customers=n,
        links=int(referees.size),
        purchases=purchases,
        max_depth=int(depth.max(initial=0)),
        partner_token=token,
        deep_ids=(ids[deepest]).tolist(),
        viewer_ids=(
            rng.choice(referrers, size=min(VIEWERS, referrers.size), replace=False) + 1
        ).tolist(),
        external_ids_sample=[external[i] for i in rng.integers(0, n, size=20_000).tolist()],
        seconds=time.perf_counter() - started,
        generate_seconds=generated - started,
        copy_seconds=copied - copy_started,
        constraint_seconds=constrained - copied,
    )


def now() -> datetime:
    """The wall clock in UTC (report header)."""
    return datetime.now(UTC)
