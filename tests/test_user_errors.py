"""Services name the input at fault in Python; the API layer maps it to the GraphQL path
that clients see in userErrors.field (the GraphQL tests hold every path to its old value)."""

from __future__ import annotations

import ast
import contextlib
from pathlib import Path

from strawberry.types.base import StrawberryObjectDefinition

from rujuk.api import build_schema
from rujuk.errors import DomainError
from rujuk.schema.payloads import UserError, input_path

SRC = Path(__file__).resolve().parents[1] / "src" / "rujuk"


def test_a_field_name_becomes_its_graphql_path_under_input() -> None:
    assert input_path(("program_id",)) == ["input", "programId"]
    assert input_path(("customer_external_id",)) == ["input", "customerExternalId"]
    assert input_path(("tiers", 0, "level_rates")) == ["input", "tiers", "0", "levelRates"]
    assert input_path(None) is None


def test_a_domain_error_keeps_its_python_field() -> None:
    assert DomainError("NOT_FOUND", "no such referral", "referral_id").field == ("referral_id",)
    assert DomainError("X", "m", ("tiers", 2)).field == ("tiers", 2)
    assert DomainError("X", "m").field is None


def test_a_user_error_carries_the_graphql_path() -> None:
    error = UserError.of(DomainError("INVALID_AMOUNT", "amount must be positive", "amount"))
    assert (error.field, error.code, error.message) == (
        ["input", "amount"],
        "INVALID_AMOUNT",
        "amount must be positive",
    )


# The calls below the API layer that name an input field, and which of their positional
# arguments do (a field, or the parts of a path).
FIELD_ARGUMENTS = {
    ("*", "DomainError"): slice(2, 3),
    ("programs.py", "bad"): slice(2, None),
    ("programs.py", "money"): slice(2, None),
    ("registration.py", "bad"): slice(0, 1),
    ("purchases.py", "_check_key"): slice(1, 2),
    ("webhooks.py", "_unknown_endpoint"): slice(0, 1),
    ("webhooks.py", "_managed_endpoint"): slice(3, 4),
}


def literal_fields() -> list[tuple[str, int, object]]:
    """Every literal field (or part of a path) that services name."""
    found: list[tuple[str, int, object]] = []
    for path in sorted((SRC / "services").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            where = FIELD_ARGUMENTS.get((path.name, node.func.id)) or FIELD_ARGUMENTS.get(
                ("*", node.func.id)
            )
            if where is None:
                continue
            given = node.args[where] + [k.value for k in node.keywords if k.arg == "field"]
            for arg in given:
                # A variable (an index, a helper's parameter) is checked where it is written.
                with contextlib.suppress(ValueError):
                    found.append((path.name, node.lineno, ast.literal_eval(arg)))
    return found


def is_python_field(field: object) -> bool:
    """A field name as the services' inputs spell it, or a path of them and list indices."""
    parts = field if isinstance(field, tuple | list) else (field,)
    return all(
        isinstance(part, int)
        or (isinstance(part, str) and part != "input" and part.islower() and part.isidentifier())
        for part in parts
    )


def test_services_name_fields_in_python() -> None:
    fields = literal_fields()
    assert len(fields) > 30
    wrong = [
        f"{module}:{line}: {field!r}"
        for module, line, field in fields
        if not is_python_field(field)
    ]
    assert wrong == []


def test_every_named_field_is_a_field_of_an_input() -> None:
    inputs = {
        field.python_name
        for concrete in build_schema().schema_converter.type_map.values()
        if isinstance(concrete.definition, StrawberryObjectDefinition)
        and concrete.definition.is_input
        for field in concrete.definition.fields
    }
    named = {
        part
        for _, _, field in literal_fields()
        for part in (field if isinstance(field, tuple | list) else (field,))
        if isinstance(part, str)
    }
    assert named - inputs == set()


def test_a_graphql_path_is_not_a_python_field() -> None:
    assert is_python_field("program_id")
    assert is_python_field(("tiers", 0, "level_rates"))
    assert not is_python_field("programId")
    assert not is_python_field(["input", "program_id"])
