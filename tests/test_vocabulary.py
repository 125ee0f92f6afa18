"""The vocabulary is the one list of each domain value: the database's CHECK constraints and
the served GraphQL enums hold the same sets."""

from __future__ import annotations

import ast
import re
from enum import StrEnum
from pathlib import Path

from rujuk import vocabulary
from rujuk.api import build_schema
from rujuk.db.pool import connect
from rujuk.graph import events
from rujuk.vocabulary import (
    CodeKind,
    GraphEventKind,
    LedgerEntryKind,
    ReferralStatus,
    RewardKind,
    RewardStatus,
    TokenRole,
    WebhookDeliveryStatus,
)

# Each column whose CHECK lists its values, and the vocabulary that names them.
CHECKED: dict[tuple[str, str], type[StrEnum]] = {
    ("referral_code", "kind"): CodeKind,
    ("referral", "status"): ReferralStatus,
    ("api_token", "role"): TokenRole,
    ("reward", "kind"): RewardKind,
    ("reward", "status"): RewardStatus,
    ("reward_entry", "kind"): LedgerEntryKind,
    ("webhook_delivery", "status"): WebhookDeliveryStatus,
}

# Values the vocabulary has and a CHECK does not allow yet. Only shrinks.
PENDING: dict[tuple[str, str], set[str]] = {}

# `col = ANY (ARRAY['A'::text, 'B'::text])`, as pg_get_constraintdef prints an IN list.
IN_LIST = re.compile(r"\((\w+) = ANY \(ARRAY\[([^\]]*)\]\)\)")


async def check_lists(database_url: str) -> dict[tuple[str, str], set[str]]:
    """Every `column IN (...)` CHECK of the migrated database, by (table, column)."""
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT c.conrelid::regclass::text AS table_name, pg_get_constraintdef(c.oid) AS def
               FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
               WHERE c.contype = 'c' AND n.nspname = 'public'"""
        )
    finally:
        await conn.close()
    lists: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        for column, items in IN_LIST.findall(row["def"]):
            values = set(re.findall(r"'([^']*)'::text", items))
            lists.setdefault((row["table_name"], column), set()).update(values)
    return lists


async def test_every_check_list_is_a_vocabulary(database_url: str) -> None:
    lists = await check_lists(database_url)
    assert set(lists) == set(CHECKED), "a CHECK list without its vocabulary (or gone)"
    for column, vocabulary_enum in CHECKED.items():
        expected = {v.value for v in vocabulary_enum} - PENDING.get(column, set())
        assert lists[column] == expected, column


def test_the_served_enums_are_the_vocabulary() -> None:
    schema = build_schema()._schema
    for name in [
        "Channel",
        "CodeKind",
        "ReferralStatus",
        "RewardKind",
        "RewardStatus",
        "InfluenceMetric",
        "ReviewDecision",
        "TokenRole",
        "WebhookDeliveryStatus",
    ]:
        served = schema.get_type(name)
        domain: type[StrEnum] = getattr(vocabulary, name)
        assert served is not None, name
        assert list(served.values) == [v.name for v in domain], name  # type: ignore[attr-defined]


def test_every_graph_event_kind_has_its_event() -> None:
    kinds = [
        events.CustomerRegistered.kind,
        events.PurchaseRecorded.kind,
        events.PurchaseRefunded.kind,
        events.ReferralReviewed.kind,
        events.CustomerErased.kind,
        events.ProgramUpdated.kind,
    ]
    assert sorted(kinds) == sorted(GraphEventKind)


def test_the_vocabulary_imports_nothing_from_rujuk() -> None:
    tree = ast.parse(Path(vocabulary.__file__).read_text(encoding="utf-8"))
    imported = [
        name
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    ]
    assert imported == ["__future__", "enum"]
