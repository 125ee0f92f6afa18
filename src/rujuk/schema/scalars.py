"""The contract's scalars: DateTime with an offset, Decimal carried as a JSON string."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import strawberry
from graphql import GraphQLError

from rujuk.compat.strawberry import ScalarDefinition

MAX_DECIMAL_TEXT = 40


def serialize_datetime(value: datetime) -> str:
    """ISO 8601 in UTC, with its offset: the same instant always reads the same."""
    return value.astimezone(UTC).isoformat()


def parse_datetime(value: object) -> datetime:
    """ISO 8601 text with an offset; a date-time without one is ambiguous and refused."""
    if not isinstance(value, str) or len(value) > 64:
        raise GraphQLError("DateTime must be an ISO 8601 string such as 2026-11-22T09:30:00+07:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise GraphQLError(f"DateTime is not ISO 8601: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise GraphQLError("DateTime needs an offset, e.g. +07:00 or Z")
    return parsed


def serialize_decimal(value: Decimal) -> str:
    """Plain notation, never exponent form."""
    return format(value, "f")


def parse_decimal(value: object) -> Decimal:
    """A decimal from a JSON string (or an integer); floats are refused as inexact."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise GraphQLError('Decimal must be a JSON string such as "125000" or "0.05"')
    text = str(value).strip()
    if len(text) > MAX_DECIMAL_TEXT:
        raise GraphQLError("Decimal is too long")
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        raise GraphQLError(f"Decimal is not a number: {text[:40]!r}") from None
    if not parsed.is_finite():
        raise GraphQLError("Decimal must be finite")
    return parsed


DATETIME: ScalarDefinition = strawberry.scalar(
    name="DateTime",
    description="ISO 8601 date-time with offset, e.g. 2026-11-22T09:30:00+07:00.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

DECIMAL: ScalarDefinition = strawberry.scalar(
    name="Decimal",
    description='An exact decimal number carried as a JSON string, e.g. "125000" or "0.05". '
    "Never a float.",
    serialize=serialize_decimal,
    parse_value=parse_decimal,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {datetime: DATETIME, Decimal: DECIMAL}
