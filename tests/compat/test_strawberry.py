"""What rujuk.compat.strawberry assumes of strawberry's internals: flat inputs built directly,
exactly as strawberry's field-by-field conversion builds them; the graphql-core schema
behind a strawberry schema; its execution context, validation and stream check."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import strawberry
from graphql import GraphQLSchema, parse, specified_rules
from graphql.execution import Executor
from strawberry.asgi import GraphQL
from strawberry.types.base import StrawberryObjectDefinition

from rujuk.api import build_schema
from rujuk.compat.strawberry import (
    CannotGetOperationTypeError,
    CoreExecutionContext,
    InvalidOperationTypeError,
    OperationType,
    UnsetType,
    core_schema,
    describe_enum_values,
    graphql_name,
    install_flat_inputs,
    is_awaitable,
    streams,
    validate_document,
)
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


def test_the_core_schema_is_the_one_strawberry_runs() -> None:
    core = core_schema(schema())
    assert isinstance(core, GraphQLSchema)
    assert core.query_type is not None
    assert set(core.query_type.fields) == {"flat", "withEnum"}
    assert "Flat" in core.type_map


def test_strawberry_validates_with_the_rules_it_is_given() -> None:
    core = core_schema(schema())
    rules = tuple(specified_rules)
    assert validate_document(core, parse('{ flat(value: {name: "a", amount: "1"}) }'), rules) == []
    errors = validate_document(core, parse("{ nothing }"), rules)
    assert [e.message for e in errors] == ["Cannot query field 'nothing' on type 'Query'."]


def test_the_execution_context_is_graphql_cores() -> None:
    assert issubclass(CoreExecutionContext, Executor)
    for method in ("gather_async_work", "track_async_work"):
        assert callable(getattr(CoreExecutionContext, method))


async def test_the_awaitable_test_tells_coroutines_from_values() -> None:
    async def coroutine() -> int:
        return 1

    pending = coroutine()
    assert is_awaitable(pending)
    assert await pending == 1
    assert not is_awaitable(1)
    assert not is_awaitable({"data": None})


def test_the_view_tells_a_streaming_request_by_its_accept_header() -> None:
    view = GraphQL(schema(), subscription_protocols=("graphql-transport-ws", "graphql-sse"))
    assert streams(view, {"Accept": "text/event-stream"})
    assert not streams(view, {"accept": "application/json"})
    assert not streams(view, {})
    # rujuk's endpoint takes strawberry's default protocols (WebSocket ones): no streaming.
    assert not streams(GraphQL(schema()), {"accept": "text/event-stream"})


def test_the_names_strawberry_does_not_export_are_where_rujuk_takes_them() -> None:
    assert {OperationType.QUERY, OperationType.MUTATION} <= OperationType.from_http("POST")
    assert OperationType.SUBSCRIPTION.value == "subscription"
    assert issubclass(InvalidOperationTypeError, Exception)
    assert issubclass(CannotGetOperationTypeError, Exception)
    assert InvalidOperationTypeError(OperationType.SUBSCRIPTION).operation_type is (
        OperationType.SUBSCRIPTION
    )
    assert isinstance(strawberry.UNSET, UnsetType)


def test_graphql_names_are_the_schemas_names_of_python_fields() -> None:
    assert graphql_name("customer_external_id") == "customerExternalId"
    assert graphql_name("as_of") == "asOf"
    assert graphql_name("id") == "id"
    # What the API layer maps services' field names with (schema/payloads.py input_path).
    converter = build_schema().config.name_converter
    for concrete in build_schema().schema_converter.type_map.values():
        definition = concrete.definition
        if isinstance(definition, StrawberryObjectDefinition) and definition.is_input:
            for field in definition.fields:
                assert graphql_name(field.python_name) == converter.from_field(field)


class Shade(enum.StrEnum):
    LIGHT = "LIGHT"
    DARK = "DARK"


def test_enum_values_take_their_descriptions() -> None:
    served = strawberry.enum(Shade, description="How dark.")
    describe_enum_values(served, {"DARK": "Little light."})

    @strawberry.type
    class Query:
        shade: Shade = Shade.DARK

    sdl = strawberry.Schema(query=Query).as_str()
    assert '"""How dark."""\nenum Shade {\n  LIGHT\n\n  """Little light."""\n  DARK\n}' in sdl
