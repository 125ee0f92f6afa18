"""Every GraphQL error leaves with an extensions.code; unexpected ones leave masked."""

from __future__ import annotations

import logging

from graphql.error import GraphQLError

from rujuk.compat.strawberry import InvalidOperationTypeError, OperationType
from rujuk.db.pool import unstorable_text
from rujuk.errors import RequestError

logger = logging.getLogger("rujuk.errors")

INTERNAL = "INTERNAL_SERVER_ERROR"
# What graphql-core and strawberry's limiters say, and the code each refusal gets.
LIMIT_MESSAGES = (
    ("exceeds maximum operation depth", "QUERY_TOO_DEEP"),
    ("aliases found. Allowed:", "TOO_MANY_ALIASES"),
    ("Document contains more than", "TOO_MANY_TOKENS"),
)


NOT_SUPPORTED = "OPERATION_NOT_SUPPORTED"
SUBSCRIPTIONS_OVER_WEBSOCKET = (
    "subscriptions are served over WebSocket (graphql-transport-ws on /graphql), not over HTTP"
)
OPERATIONS_OVER_HTTP = (
    "queries and mutations are served over HTTP (POST /graphql) or graphql-transport-ws;"
    " the legacy graphql-ws protocol carries subscriptions only"
)


def _pre_execution_code(message: str) -> str:
    for fragment, code in LIMIT_MESSAGES:
        if fragment in message:
            return code
    return (
        "GRAPHQL_PARSE_FAILED"
        if message.startswith("Syntax Error")
        else ("GRAPHQL_VALIDATION_FAILED")
    )


def classify(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error as the client sees it: with a code, and without internals."""
    original = error.original_error
    if original is None and "code" in (error.extensions or {}):
        # Raised with its code (cost and rate limits), or classified already.
        return error
    if isinstance(original, RequestError):
        code, message = original.code, str(original)
    elif isinstance(original, InvalidOperationTypeError):
        # strawberry's transports refuse an operation type they do not carry (a query over
        # graphql-ws): the client's mistake, not a failure.
        code = NOT_SUPPORTED
        subscription = original.operation_type is OperationType.SUBSCRIPTION
        message = SUBSCRIPTIONS_OVER_WEBSOCKET if subscription else OPERATIONS_OVER_HTTP
    elif unstorable_text(original):
        code, message = "INVALID_INPUT", "text must not contain NUL or characters UTF-8 cannot hold"
    elif isinstance(original, GraphQLError):
        code, message = "BAD_USER_INPUT", original.message
    elif original is None and error.path is None:
        code, message = _pre_execution_code(error.message), error.message
    elif original is None:
        code, message = INTERNAL, error.message
    else:
        logger.error("request %s failed at %s", request_id, error.path, exc_info=original)
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


def with_request_id(error: GraphQLError, request_id: str) -> GraphQLError:
    """A copy of the error naming its request (the original may be a cached one)."""
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "requestId": request_id},
    )


def classify_in_place(error: GraphQLError, request_id: str) -> None:
    if "code" not in (error.extensions or {}):
        classified = classify(error, request_id)
        error.message = classified.message
        error.extensions = classified.extensions
