"""A small GraphQL-over-HTTP client for the tests."""

from __future__ import annotations

from typing import Any

import httpx

ADMIN_TOKEN = "test-admin-token-0123456789"


class GraphQLClient:
    """Posts operations to /graphql with a chosen token."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = ADMIN_TOKEN) -> None:
        self.http = http
        self.token = token

    def as_token(self, token: str | None) -> GraphQLClient:
        """The same client acting with another token (None: anonymous)."""
        return GraphQLClient(self.http, token)

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole response body (data and errors)."""
        headers = {} if self.token is None else {"Authorization": f"Bearer {self.token}"}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a response that must have no errors."""
        body = await self.post(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error_code(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """The extensions.code of the first error of a response that must fail."""
        body = await self.post(query, variables)
        assert body.get("errors"), body
        code: str = body["errors"][0]["extensions"]["code"]
        return code
