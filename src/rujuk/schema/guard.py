"""Every request's checks, as one schema extension with two hooks.

strawberry prepares each hook of each extension anew for every request (an inspection and
a context manager apiece): six extensions cost more than validating a cached document. So
this one does, in order:

- before strawberry parses: the text's length (QUERY_TOO_LARGE), then, cached by text, the
  parse with a token limit (TOO_MANY_TOKENS), depth and aliases (QUERY_TOO_DEEP,
  TOO_MANY_ALIASES) and validation; strawberry skips the steps already done;
- before execution: the variables' size, the operation's cost (QUERY_TOO_COMPLEX,
  extensions.cost) and the caller's rate (RATE_LIMITED);
- on the way out: a code on every error (see errors.classify).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLSchema, get_operation_ast, parse
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from rujuk.compat.strawberry import core_schema, validate_document
from rujuk.observe import note_operation
from rujuk.schema.cost import enforce, length_refusal, operation_cost, shape_refusal
from rujuk.schema.errors import classify, classify_in_place, with_request_id

# Bounded caches: a public endpoint must not grow memory with unique query texts.
CACHE_SIZE = 512
MAX_DEPTH = 15
MAX_ALIASES = 100
# GraphiQL's introspection query has under 500 tokens, the console's examples under 300;
# graphql-core's lexer needs about 20 ms per 1,000 tokens before it can refuse a document.
MAX_TOKENS = 2000
MAX_QUERY_LENGTH = 32 * 1024


class RequestGuard(SchemaExtension):
    """The limits, the cost and the error codes of one operation."""

    def __init__(self) -> None:
        self.cost = 0

    def on_operation(self) -> Iterator[None]:
        execution = self.execution_context
        request_id = getattr(execution.context, "request_id", "-")
        try:
            query = execution.query
            if query is not None and execution.graphql_document is None:
                document, errors = checked_document(
                    core_schema(execution.schema), query, execution.validation_rules
                )
                execution.graphql_document = document
                # A fresh list: strawberry and the codes below may change it.
                execution.pre_execution_errors = list(errors)
            yield
        except GraphQLError as error:
            # A syntax error leaves by exception; strawberry then answers with that very
            # error object, so it gets its code in place.
            classify_in_place(error, request_id)
            raise
        if execution.graphql_document is not None:
            note_operation(
                execution.context,
                get_operation_ast(execution.graphql_document, execution.operation_name),
            )
        result = execution.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            result.errors = [
                with_request_id(classify(e, request_id), request_id) for e in result.errors
            ]
        # Errors that leave before any result exists are the objects kept here.
        for pending in execution.pre_execution_errors or []:
            classify_in_place(pending, request_id)

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        cost = None
        if document is not None:
            cost = operation_cost(
                core_schema(execution.schema),
                document,
                execution.query,
                execution.operation_name,
                execution.variables,
            )
        if cost is not None:
            self.cost = cost
            enforce(execution.context, cost)
        yield

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Subscription events (and operations over WebSocket) leave before on_operation ends.
        request_id = getattr(self.execution_context.context, "request_id", "-")
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            result.errors = [
                with_request_id(classify(e, request_id), request_id) for e in result.errors
            ]
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.cost}


def checked_document(
    schema: GraphQLSchema, query: str, rules: tuple[type[ASTValidationRule], ...]
) -> tuple[DocumentNode, tuple[GraphQLError, ...]]:
    """The query's document and validation errors, its length checked first: raises
    QUERY_TOO_LARGE, or the syntax error, as a GraphQLError."""
    refusal = length_refusal(query, MAX_QUERY_LENGTH)
    if refusal is not None:
        raise refusal
    return prepared_document(schema, query, rules)


@lru_cache(maxsize=CACHE_SIZE)
def prepared_document(
    schema: GraphQLSchema, query: str, rules: tuple[type[ASTValidationRule], ...]
) -> tuple[DocumentNode, tuple[GraphQLError, ...]]:
    """A query text parsed, measured and validated; raises its syntax error (not cached)."""
    document = parse(query, max_tokens=MAX_TOKENS)
    refusal = shape_refusal(document, MAX_DEPTH, MAX_ALIASES)
    if refusal is not None:
        # Instead of validating: strawberry answers with this error.
        return document, (refusal,)
    return document, tuple(validate_document(schema, document, rules))
