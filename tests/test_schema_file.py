"""The committed schema.graphql matches the code, and the contract is a subset of what is served."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLSchema, find_breaking_changes
from graphql import build_schema as build_sdl

from rujuk.api import build_schema

ROOT = Path(__file__).parents[1]
COMMITTED = ROOT / "schema.graphql"
CONTRACT = Path(__file__).parents[2] / "shared/contract/schema.graphql"
REGENERATE = "scripts/print-schema > schema.graphql"

# Contract items the served schema may still lack, as graphql-core's find_breaking_changes
# describes them. Only the issues named below may leave items here; remove an entry when its
# feature lands (the test fails on an entry that is no longer missing).
PENDING: frozenset[str] = frozenset()


def served_sdl() -> str:
    return build_schema().as_str()


def contract_schema(text: str) -> GraphQLSchema:
    """The contract without its header block string (graphql-core reads two descriptions)."""
    return build_sdl(re.sub(r'\A\s*""".*?"""', "", text, count=1, flags=re.DOTALL))


def test_committed_schema_matches_the_code() -> None:
    assert COMMITTED.exists(), f"schema.graphql is missing; regenerate it with `{REGENERATE}`"
    committed = COMMITTED.read_text()
    assert committed.rstrip("\n") == served_sdl().rstrip("\n"), (
        f"schema.graphql drifted from the code; regenerate it with `{REGENERATE}`"
    )


def test_committed_schema_parses() -> None:
    schema = build_sdl(COMMITTED.read_text())
    assert schema.query_type is not None
    assert schema.query_type.name == "Query"
    assert schema.mutation_type is not None
    assert "registerCustomer" in schema.mutation_type.fields


def test_contract_is_a_subset_of_the_served_schema() -> None:
    if not CONTRACT.exists():
        pytest.skip(f"the contract is not checked out beside the repository ({CONTRACT})")
    changes = find_breaking_changes(contract_schema(CONTRACT.read_text()), build_sdl(served_sdl()))
    found = {change.description for change in changes}
    unexpected = sorted(found - PENDING)
    assert not unexpected, f"the served schema breaks the contract: {unexpected}"
    stale = sorted(PENDING - found)
    assert not stale, f"these contract items are served now; remove them from PENDING: {stale}"


def test_the_contract_header_is_stripped_but_nothing_else() -> None:
    text = '"""\nheader\n"""\n\n"A scalar."\nscalar DateTime\n\ntype Query { now: DateTime }\n'
    schema = contract_schema(text)
    scalar = schema.get_type("DateTime")
    assert scalar is not None
    assert scalar.description == "A scalar."
