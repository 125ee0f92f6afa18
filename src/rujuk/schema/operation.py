"""One query or mutation run on graphql-core directly, with RequestGuard's checks: the path
of the everyday POST.

strawberry's Schema.execute builds for every request an execution context, an extension
runner with a context manager per hook, a middleware manager and a second result object;
for a purchase that was a tenth of the server's CPU. This path calls the guard's own
functions in the guard's order (limits, parse and validation cached by text, variables,
cost, rate, error codes) and answers the same results, extensions.cost included; what it
does not run, strawberry's Schema.execute does.
"""

from __future__ import annotations

from inspect import isawaitable
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
    specified_rules,
)
from strawberry.types import ExecutionResult

from rujuk.compat.graphql import AcyclicExecutionContext
from rujuk.compat.strawberry import is_awaitable
from rujuk.observe import note_operation
from rujuk.schema.cost import enforce, operation_cost
from rujuk.schema.errors import (
    NOT_SUPPORTED,
    SUBSCRIPTIONS_OVER_WEBSOCKET,
    classify,
    classify_in_place,
)
from rujuk.schema.guard import checked_document

# strawberry's default rules: the same tuple keys the same cached preparations.
VALIDATION_RULES = tuple(specified_rules)
RUNS_HERE = frozenset({OperationType.QUERY, OperationType.MUTATION})


async def execute_operation(
    schema: GraphQLSchema,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: Any,
    operation_extensions: dict[str, Any] | None,
) -> ExecutionResult | None:
    """The operation's result, or None when strawberry must run it: an empty query, or no
    single operation by that name (strawberry words those refusals). A subscription is
    refused: over plain HTTP it has nowhere to send its events."""
    if not query:
        return None
    request_id: str = context.request_id
    try:
        document, errors = checked_document(schema, query, VALIDATION_RULES)
    except GraphQLError as error:
        classify_in_place(error, request_id)
        return ExecutionResult(data=None, errors=[error], extensions={"cost": 0})
    operation = get_operation_ast(document, operation_name)
    note_operation(context, operation)
    if operation is None:
        return None
    if errors:
        for invalid in errors:
            classify_in_place(invalid, request_id)
        return ExecutionResult(data=None, errors=list(errors), extensions={"cost": 0})
    if operation.operation not in RUNS_HERE:
        refusal = GraphQLError(SUBSCRIPTIONS_OVER_WEBSOCKET, extensions={"code": NOT_SUPPORTED})
        return ExecutionResult(data=None, errors=[refusal], extensions={"cost": 0})
    cost = 0
    try:
        cost = operation_cost(schema, document, query, operation_name, variables) or 0
        enforce(context, cost)
    except GraphQLError as error:
        classify_in_place(error, request_id)
        return ExecutionResult(data=None, errors=[error], extensions={"cost": cost})
    outcome = execute(
        schema,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        executor_class=AcyclicExecutionContext,
        is_awaitable=is_awaitable,
        operation_extensions=operation_extensions,
    )
    result = await outcome if isawaitable(outcome) else outcome
    errors_out = [classify(e, request_id) for e in result.errors] if result.errors else None
    return ExecutionResult(data=result.data, errors=errors_out, extensions={"cost": cost})


def operation_type(
    schema: GraphQLSchema, query: str, operation_name: str | None
) -> OperationType | None:
    """The type of the operation a request would run; None when its document does not
    parse or names no single operation (the run itself refuses those)."""
    try:
        document, _ = checked_document(schema, query, VALIDATION_RULES)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, operation_name)
    return None if operation is None else operation.operation
