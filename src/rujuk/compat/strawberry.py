"""strawberry beyond its public API: its GraphQL-core schema, its execution context and
document validation, the view's stream check, names it does not export, the GraphQL names
of Python fields, enum values' descriptions, and the input conversion hook of its type
definitions (flat inputs, below).

Each of these is pinned by tests/compat/test_strawberry.py; nothing else in rujuk imports a
strawberry module outside strawberry's public ones (strawberry, strawberry.types,
strawberry.http, strawberry.extensions, strawberry.asgi, strawberry.dataloader,
strawberry.relay, strawberry.exceptions).

Flat inputs: strawberry converts an argument field by field and resolves each field's
annotation again on every request: a tenth of a recordPurchase's CPU. When every field is a
scalar there is nothing left to convert (graphql-core has parsed each value with its
scalar's parse_value), so such a type gets strawberry's `from_input` hook: one dictionary
walk and the class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import MISSING
from enum import Enum
from typing import Any, TypeGuard, cast

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from graphql.validation import ASTValidationRule
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.execution import optimized_is_awaitable
from strawberry.relay import GlobalID
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema import validate_document as _validate_document
from strawberry.types.base import StrawberryMaybe, StrawberryObjectDefinition, StrawberryOptional
from strawberry.types.enum import has_enum_definition
from strawberry.types.graphql import OperationType
from strawberry.types.scalar import ScalarDefinition
from strawberry.types.unset import UnsetType

__all__ = [
    "CannotGetOperationTypeError",
    "CoreExecutionContext",
    "InvalidOperationTypeError",
    "OperationType",
    "ScalarDefinition",
    "UnsetType",
    "core_schema",
    "describe_enum_values",
    "graphql_name",
    "install_flat_inputs",
    "is_awaitable",
    "streams",
    "validate_document",
]

# The execution context strawberry hands graphql-core (rujuk subclasses it: compat/graphql.py).
CoreExecutionContext = StrawberryGraphQLCoreExecutionContext

# strawberry's test of resolver results, quicker than graphql-core's on plain values.
is_awaitable = cast("Callable[[Any], TypeGuard[Awaitable[Any]]]", optimized_is_awaitable)


def core_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema strawberry built and runs (no public accessor exists)."""
    core: GraphQLSchema = schema._schema
    return core


# The names rujuk's schema gives Python fields: it keeps strawberry's default configuration.
_NAMES = StrawberryConfig().name_converter


def graphql_name(python_name: str) -> str:
    """The GraphQL name of a Python field name in rujuk's schema ("as_of" is "asOf")."""
    return _NAMES.apply_naming_config(python_name)


def describe_enum_values(served: type[Enum], descriptions: Mapping[str, str]) -> None:
    """Describe the values of an enum that strawberry.enum made a GraphQL enum, by name (a
    value without a description gets none): strawberry takes values' descriptions only from
    enum_value() in the class body, and a domain enum has none."""
    assert has_enum_definition(served)
    for value in served.__strawberry_definition__.values:
        value.description = descriptions.get(value.name)


def validate_document(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """The document's validation errors, as strawberry validates them."""
    return _validate_document(schema, document, rules)


def streams(view: GraphQL[Any, Any], headers: Mapping[str, str]) -> bool:
    """Whether a request asks strawberry's view for a streamed (multipart or SSE) answer."""
    return bool(view._get_stream_transport_from_headers(headers))


Builder = Callable[[type, Mapping[str, Any], Any], Any]


def install_flat_inputs(schema: Schema) -> list[str]:
    """Give every all-scalar input type of the schema a direct builder; their names."""
    scalars = schema.schema_converter.scalar_registry
    installed: list[str] = []
    for name, concrete in schema.schema_converter.type_map.items():
        definition = concrete.definition
        if (
            isinstance(definition, StrawberryObjectDefinition)
            and definition.is_input
            and definition.from_input is None
            and all(_is_scalar(field.type, scalars) for field in definition.fields)
        ):
            definition.from_input = _builder(schema, definition)
            installed.append(name)
    return sorted(installed)


def _is_scalar(annotation: object, scalars: Mapping[object, object]) -> bool:
    if isinstance(annotation, StrawberryMaybe):  # its nulls need strawberry's own checks
        return False
    if isinstance(annotation, StrawberryOptional):
        annotation = annotation.of_type
    # A GlobalID is decoded from its text by strawberry, not by graphql-core.
    return annotation is not GlobalID and annotation in scalars


def _builder(schema: Schema, definition: StrawberryObjectDefinition) -> Builder:
    names = [
        (schema.config.name_converter.from_field(field), field.python_name)
        for field in definition.fields
    ]
    # As strawberry does: an omitted field without a default is None.
    omitted = {
        field.python_name: None
        for field in definition.fields
        if field.default_value is MISSING and field.default_factory is MISSING
    }

    def build(cls: type, value: Mapping[str, Any], _context: Any) -> Any:
        kwargs = dict(omitted)
        for graphql_name, python_name in names:
            if graphql_name in value:
                kwargs[python_name] = value[graphql_name]
        return cls(**kwargs)

    return build
