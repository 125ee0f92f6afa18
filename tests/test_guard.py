"""RequestGuard: each query text is parsed, measured and validated once."""

from __future__ import annotations

from rujuk.schema.guard import prepared_document
from tests.graphql_client import GraphQLClient

QUERY = "query Guarded { programs { id name } }"


async def test_a_query_text_is_prepared_once_and_answered_the_same(gql: GraphQLClient) -> None:
    first = await gql.data(QUERY)
    before = prepared_document.cache_info()
    second = await gql.data(QUERY)
    after = prepared_document.cache_info()
    assert second == first
    assert after.hits == before.hits + 1
    assert after.misses == before.misses
