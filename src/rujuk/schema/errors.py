"""Every GraphQL error leaves with an extensions.code; unexpected ones leave masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from rujuk.errors import RequestError

logger = logging.getLogger("rujuk.errors")

INTERNAL = "INTERNAL_SERVER_ERROR"


def classify(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error as the client sees it: with a code, and without internals."""
    original = error.original_error
    if isinstance(original, RequestError):
        code, message = original.code, str(original)
    elif isinstance(original, GraphQLError):
        code, message = "BAD_USER_INPUT", original.message
    elif original is None and error.path is None:
        parse = error.message.startswith("Syntax Error")
        code = "GRAPHQL_PARSE_FAILED" if parse else "GRAPHQL_VALIDATION_FAILED"
        message = error.message
    elif original is None:
        code, message = INTERNAL, error.message
    else:
        logger.error(
            "request %s failed at %s", request_id, error.path, exc_info=original
        )
        code, message = INTERNAL, f"Internal server error (request id {request_id})."
    extensions = {**(error.extensions or {}), "code": code}
    if code == INTERNAL:
        extensions["requestId"] = request_id
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    """Give each error of the result its code (after execution, before the response)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult) and result.errors:
            context = self.execution_context.context
            request_id = getattr(context, "request_id", "-")
            result.errors = [classify(e, request_id) for e in result.errors]
