"""Flat inputs: built directly, exactly as strawberry's field-by-field conversion builds them."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import strawberry

from rujuk.api import build_schema
from rujuk.schema.flat_inputs import install_flat_inputs
from rujuk.schema.scalars import SCALAR_OVERRIDES


@strawberry.enum
class Colour(enum.Enum):
    RED = "RED"


@strawberry.input
class Flat:
    name: str
    amount: Decimal
    count: int = 3
    note: str | None = None
    at: datetime | None = strawberry.UNSET
    code: strawberry.ID | None = None


@strawberry.input
class WithEnum:
    colour: Colour


def schema() -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def flat(self, value: Flat) -> str:
            return repr(value)

        @strawberry.field
        def with_enum(self, value: WithEnum) -> str:
            return repr(value)

    return strawberry.Schema(query=Query, scalar_overrides=SCALAR_OVERRIDES)


QUERIES = [
    '{ flat(value: {name: "a", amount: "1.50"}) }',
    '{ flat(value: {name: "a", amount: "2", count: 7, note: null, code: 12}) }',
    '{ flat(value: {name: "a", amount: "2", at: "2026-11-24T09:00:00+07:00", note: "n"}) }',
    "{ withEnum(value: {colour: RED}) }",
]


async def test_the_same_values_as_strawberry_builds() -> None:
    plain, fast = schema(), schema()
    assert install_flat_inputs(fast) == ["Flat"]
    for query in QUERIES:
        expected = await plain.execute(query)
        got = await fast.execute(query)
        assert expected.errors is None, expected.errors
        assert got.data == expected.data


def test_rujuk_builds_its_scalar_inputs_directly_and_leaves_the_others() -> None:
    types = build_schema().schema_converter.type_map
    direct = {name for name, t in types.items() if getattr(t.definition, "from_input", None)}
    assert {"RecordPurchaseInput", "RefundPurchaseInput", "SettleRewardsInput"} <= direct
    # Enums and lists are converted by strawberry.
    assert not {"RegisterCustomerInput", "CreateProgramInput", "ReviewReferralInput"} & direct
