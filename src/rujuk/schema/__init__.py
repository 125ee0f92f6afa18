"""The strawberry schema: the contract's types, and the root types from resolvers/."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import MaxTokensLimiter, ParserCache
from strawberry.types import ExecutionContext

from rujuk.schema.chain import ExtensionChain
from rujuk.schema.cost import DocumentShape, QueryCost, QueryLength
from rujuk.schema.errors import ErrorCodes
from rujuk.schema.flat_inputs import install_flat_inputs
from rujuk.schema.scalars import SCALAR_OVERRIDES

# Bounded caches: a public endpoint must not grow memory with unique query texts.
CACHE_SIZE = 512
MAX_DEPTH = 15
MAX_ALIASES = 100
# GraphiQL's introspection query has under 500 tokens, the console's examples under 300;
# graphql-core's lexer needs about 20 ms per 1,000 tokens before it can refuse a document.
MAX_TOKENS = 2000
MAX_QUERY_LENGTH = 32 * 1024


class RujukSchema(strawberry.Schema):
    """The schema; errors are logged once, by ErrorCodes, not with strawberry's tracebacks."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema() -> RujukSchema:
    """The schema rujuk serves."""
    from rujuk.resolvers.mutation import Mutation
    from rujuk.resolvers.query import Query
    from rujuk.resolvers.subscription import Subscription

    def guards() -> ExtensionChain:
        return ExtensionChain(
            ErrorCodes(),
            QueryLength(MAX_QUERY_LENGTH),
            ParserCache(maxsize=CACHE_SIZE),
            # Depth and aliases are checked before validation, not as validation rules:
            # that keeps the validation cache's key (the rules) the same for every request,
            # and the measure linear in the document (see DocumentShape).
            DocumentShape(CACHE_SIZE, max_depth=MAX_DEPTH, max_aliases=MAX_ALIASES),
            MaxTokensLimiter(max_token_count=MAX_TOKENS),
            QueryCost(),
        )

    extensions: list[Any] = [guards]
    schema = RujukSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
    )
    install_flat_inputs(schema)
    return schema
