"""RequestGuard: each query text is parsed, measured and validated once."""

from __future__ import annotations

from rujuk.schema.guard import _prepared
from tests.graphql_client import GraphQLClient

QUERY = "query Guarded { programs { id name } }"


async def test_a_query_text_is_prepared_once_and_answered_the_same(gql: GraphQLClient) -> None:
    first = await gql.data(QUERY)
    before = _prepared.cache_info()
    second = await gql.data(QUERY)
    after = _prepared.cache_info()
    assert second == first
    assert after.hits == before.hits + 1
    assert after.misses == before.misses
