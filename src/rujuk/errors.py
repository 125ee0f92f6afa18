"""The failures the domain raises; resolvers translate them for GraphQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

# An input field as the services know it, in Python: "program_id", or a path into the input
# such as ("tiers", 0, "level_rates").
Field: TypeAlias = "str | Sequence[str | int]"


class DomainError(Exception):
    """An expected, user-facing failure of a mutation: becomes a `userErrors` entry.

    `field` names the input at fault in Python; the API layer maps it to the GraphQL path
    that clients see (schema/payloads.py: "program_id" is ["input", "programId"]).
    """

    def __init__(self, code: str, message: str, field: Field | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field: tuple[str | int, ...] | None = (
            None if field is None else (field,) if isinstance(field, str) else tuple(field)
        )


class RequestError(Exception):
    """A request that cannot be answered: becomes a GraphQL error with extensions.code."""

    code = "INVALID_INPUT"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def extensions(self) -> dict[str, object]:
        """graphql-core copies these onto the GraphQL error that wraps this exception."""
        return {"code": self.code}


class Unauthenticated(RequestError):
    """No token, or a token that is malformed, unknown, expired or revoked."""

    code = "UNAUTHENTICATED"


class Forbidden(RequestError):
    """A valid token without the rights the operation needs."""

    code = "FORBIDDEN"


class ServiceUnavailable(RequestError):
    """The database cannot serve right now (unreachable, frozen, out of connections): the
    request was not wrong and may be retried (HTTP 503 with Retry-After)."""

    code = "SERVICE_UNAVAILABLE"
    # Seconds a client should wait before retrying (extensions.retryAfter, Retry-After).
    retry_after = 2

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "retryAfter": self.retry_after}


class DomainErrors(DomainError):
    """Several expected failures found at once (one per input field at fault): each becomes
    a `userErrors` entry. Caught as a DomainError it reads as its first failure."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, first.field)
        self.errors = list(errors)
