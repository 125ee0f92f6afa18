"""Query cost: computed before execution, refused over the limit, charged to the caller's bucket.

Each field that returns an object costs 1 plus its selection; a field with a `first` argument
(connections, leaderboard) costs `first` times that, and `ancestors` costs `maxDepth` times
that. Scalars are free: the token limit bounds how many a document can name.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    is_composite_type,
)
from graphql.type.definition import GraphQLInterfaceType, GraphQLObjectType
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

from rujuk.metrics import RATE_LIMITED
from rujuk.pagination import MAX_PAGE_SIZE
from rujuk.services.customers import MAX_TREE_DEPTH
from rujuk.services.leaderboards import MAX_LEADERBOARD

# The argument that multiplies a field's cost, by field name; any field's `first` does too.
MULTIPLIERS = {"ancestors": "maxDepth"}
# No field takes more than this many items (page sizes, leaderboards, upline depth): a
# larger value is refused by the field itself, with INVALID_INPUT, before it does any work.
MAX_MULTIPLIER = max(MAX_PAGE_SIZE, MAX_LEADERBOARD, MAX_TREE_DEPTH)
MAX_INT = 2**31 - 1
# No input of the contract takes more than a handful of values; coercing a list of 200,000
# would take most of a second before a resolver could refuse it.
MAX_VARIABLE_VALUES = 10_000


def length_refusal(query: str, max_length: int) -> GraphQLError | None:
    """QUERY_TOO_LARGE over max_length characters, before the (pure Python) lexer reads it."""
    if len(query) <= max_length:
        return None
    return GraphQLError(
        f"the query text is over {max_length} characters",
        extensions={"code": "QUERY_TOO_LARGE", "maxLength": max_length},
    )


def shape_refusal(document: DocumentNode, max_depth: int, max_aliases: int) -> GraphQLError | None:
    """QUERY_TOO_DEEP or TOO_MANY_ALIASES, with every fragment measured once.

    strawberry's QueryDepthLimiter and MaxAliasesLimiter walk each path through the
    fragments: twelve fragments each spreading the next one ten times cost them 10^12 steps.
    """
    depth, aliases = _Shape(document).measure()
    if depth > max_depth:
        return GraphQLError(
            f"the operation is {depth} fields deep, over the limit of {max_depth}",
            extensions={"code": "QUERY_TOO_DEEP", "maxDepth": max_depth},
        )
    if aliases > max_aliases:
        return GraphQLError(
            f"{aliases} aliases found, over the limit of {max_aliases}",
            extensions={"code": "TOO_MANY_ALIASES", "maxAliases": max_aliases},
        )
    return None


class _Shape:
    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.known: dict[str, tuple[int, int]] = {}
        self.open: set[str] = set()

    def measure(self) -> tuple[int, int]:
        depth = aliases = 0
        for definition in self.document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                d, a = self.selections(definition.selection_set)
                depth, aliases = max(depth, d), aliases + a
        return depth, aliases

    def selections(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        depth = aliases = 0
        for selection in () if selection_set is None else selection_set.selections:
            if isinstance(selection, FieldNode):
                aliases += selection.alias is not None
                if selection.name.value.startswith("__"):
                    continue  # introspection is as deep as the type system, and harmless
                d, a = self.selections(selection.selection_set)
                depth, aliases = max(depth, d + 1), aliases + a
            elif isinstance(selection, InlineFragmentNode):
                d, a = self.selections(selection.selection_set)
                depth, aliases = max(depth, d), aliases + a
            elif isinstance(selection, FragmentSpreadNode):
                d, a = self.fragment(selection.name.value)
                depth, aliases = max(depth, d), aliases + a
        return depth, aliases

    def fragment(self, name: str) -> tuple[int, int]:
        if name in self.known:
            return self.known[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.open:
            return 0, 0  # unknown or cyclic: validation refuses the document
        self.open.add(name)
        self.known[name] = self.selections(fragment.selection_set)
        self.open.discard(name)
        return self.known[name]


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    query: str | None,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> int | None:
    """The cost of the document's operation about to run (None when there is none), after
    checking its variables' size: VARIABLES_TOO_LARGE."""
    check_variables(variables)
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    key = (schema, query, operation_name)
    cost = _costs.get(key)
    if cost is not None:
        return cost
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    calculator = _Calculator(schema, fragments, variables or {}, operation)
    cost = calculator.operation_cost(operation)
    if not calculator.reads_variables:
        if len(_costs) >= COST_CACHE_SIZE:
            _costs.clear()
        _costs[key] = cost
    return cost


# The costs of operations whose cost no variable changes (most: page sizes are usually
# literals), by schema, query text and operation name. Bounded like the parse cache.
COST_CACHE_SIZE = 512
_costs: dict[tuple[object, str | None, str | None], int] = {}


def check_variables(variables: dict[str, Any] | None) -> None:
    """Refuse variables holding more than MAX_VARIABLE_VALUES values, counting stops there."""
    pending: list[Any] = [variables or {}]
    seen = 0
    while pending:
        value = pending.pop()
        seen += 1
        if seen > MAX_VARIABLE_VALUES:
            raise GraphQLError(
                f"the variables hold more than {MAX_VARIABLE_VALUES} values",
                extensions={"code": "VARIABLES_TOO_LARGE", "maxValues": MAX_VARIABLE_VALUES},
            )
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def enforce(context: Any, cost: int) -> None:
    """Raise QUERY_TOO_COMPLEX or RATE_LIMITED; charge the caller's bucket otherwise."""
    settings = context.runtime.settings
    limit: int = settings.max_query_cost
    if cost > limit:
        raise GraphQLError(
            f"this operation costs {cost}, over the limit of {limit}; ask for fewer items",
            extensions={"code": "QUERY_TOO_COMPLEX", "cost": cost, "maxCost": limit},
        )
    limiter = context.rate_limiter
    if limiter is None:
        return
    wait = limiter.take(context.rate_key, max(cost, 1))
    if wait is not None:
        RATE_LIMITED.inc()
        headers = getattr(context.response, "headers", None)
        if headers is not None:
            headers["Retry-After"] = str(wait)
        raise GraphQLError(
            f"rate limit of {settings.rate_limit_cost_per_minute} cost per minute reached; "
            f"retry in {wait} s",
            extensions={"code": "RATE_LIMITED", "retryAfter": wait, "cost": cost},
        )


class _Calculator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        operation: OperationDefinitionNode,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = {
            d.variable.name.value: d.default_value for d in operation.variable_definitions or ()
        }
        # A fragment costs the same wherever it is spread: computed once, so fragments spread
        # many times over (2^n documents) cost linear time to price.
        self.fragment_costs: dict[str, int] = {}
        # Whether a multiplier came from a variable: then the cost is this request's only.
        self.reads_variables = False

    def operation_cost(self, operation: OperationDefinitionNode) -> int:
        root = {
            OperationType.QUERY: self.schema.query_type,
            OperationType.MUTATION: self.schema.mutation_type,
            OperationType.SUBSCRIPTION: self.schema.subscription_type,
        }[operation.operation]
        return 0 if root is None else self.selection_cost(operation.selection_set, root)

    def selection_cost(self, selection_set: SelectionSetNode, parent: GraphQLNamedType) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = parent if condition is None else self.schema.get_type(condition.name.value)
                if kind is not None:
                    # Every branch counts, as if the node could be of each type at once.
                    total += self.selection_cost(selection.selection_set, kind)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment_cost(selection.name.value)
        return total

    def fragment_cost(self, name: str) -> int:
        if name not in self.fragment_costs:
            fragment = self.fragments.get(name)
            kind = (
                None
                if fragment is None
                else self.schema.get_type(fragment.type_condition.name.value)
            )
            self.fragment_costs[name] = 0  # validation has refused cycles; this guards anyway
            if fragment is not None and kind is not None:
                self.fragment_costs[name] = self.selection_cost(fragment.selection_set, kind)
        return self.fragment_costs[name]

    def field_cost(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        name = node.name.value
        field: GraphQLField | None = None
        if name == "__schema":
            field = SchemaMetaFieldDef
        elif name == "__type":
            field = TypeMetaFieldDef
        elif isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            field = parent.fields.get(name)
        if field is None or node.selection_set is None:
            return 0
        kind = get_named_type(field.type)
        if not is_composite_type(kind):
            return 0
        inner = 1 + self.selection_cost(node.selection_set, kind)
        multiplier_name = MULTIPLIERS.get(name, "first")
        if multiplier_name not in field.args:
            return inner
        return self.argument(node, field, multiplier_name) * inner

    def argument(self, node: FieldNode, field: GraphQLField, name: str) -> int:
        """The argument's integer value as execution will see it (0 when it is not positive)."""
        value: Any = field.args[name].default_value
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            literal = argument.value
            if isinstance(literal, IntValueNode):
                value = int(literal.value)
            elif isinstance(literal, VariableNode):
                self.reads_variables = True
                variable = literal.name.value
                if variable in self.variables:
                    value = self.variables[variable]
                elif isinstance(self.defaults.get(variable), IntValueNode):
                    value = int(self.defaults[variable].value)  # type: ignore[union-attr]
        # Not a GraphQL Int (bool, float, over 32 bits): execution refuses it as BAD_USER_INPUT.
        valid = type(value) is int and 0 < value <= MAX_INT
        return min(value, MAX_MULTIPLIER) if valid else 0
