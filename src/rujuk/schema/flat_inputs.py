"""Input types made only of scalars, built straight from graphql-core's coerced values.

strawberry converts an argument field by field and resolves each field's annotation again
on every request: a tenth of a recordPurchase's CPU. When every field is a scalar there is
nothing left to convert (graphql-core has parsed each value with its scalar's parse_value),
so such a type gets strawberry's `from_input` hook: one dictionary walk and the class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

from strawberry import Schema
from strawberry.relay import GlobalID
from strawberry.types.base import StrawberryMaybe, StrawberryObjectDefinition, StrawberryOptional

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
