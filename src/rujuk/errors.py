"""The failures the domain raises; resolvers translate them for GraphQL."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """An expected, user-facing failure of a mutation: becomes a `userErrors` entry."""

    def __init__(self, code: str, message: str, field: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = list(field) if field is not None else None


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
