"""Who is asking, and what their token lets them do."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rujuk.errors import Forbidden, Unauthenticated


class Role(enum.Enum):
    """The kinds of caller the contract knows."""

    ADMIN = "ADMIN"
    PARTNER = "PARTNER"
    CUSTOMER = "CUSTOMER"
    ANONYMOUS = "ANONYMOUS"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a request's token."""

    role: Role
    program_id: int | None = None
    customer_id: int | None = None
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        """Every program, every operation."""
        return self.role is Role.ADMIN

    def manages(self, program_id: int) -> bool:
        """ADMIN, or PARTNER of this program: its mutations, reads and customers' contacts."""
        return self.is_admin or (self.role is Role.PARTNER and self.program_id == program_id)

    def sees_details_of(self, program_id: int, customer_id: int) -> bool:
        """Whether the caller may read more of a customer than the display name."""
        return self.manages(program_id) or (
            self.role is Role.CUSTOMER and self.customer_id == customer_id
        )

    def require_authenticated(self) -> None:
        """Anonymous callers get only `referralCode` and introspection."""
        if self.role is Role.ANONYMOUS:
            raise Unauthenticated("this operation needs an Authorization: Bearer token")

    def require_admin(self) -> None:
        """Only ADMIN tokens may do this."""
        self.require_authenticated()
        if not self.is_admin:
            raise Forbidden("this operation needs an ADMIN token")

    def require_manager(self, program_id: int) -> None:
        """Only ADMIN or this program's PARTNER may do this."""
        self.require_authenticated()
        if not self.manages(program_id):
            raise Forbidden("this token may not act on that program")

    def require_reader(self, program_id: int) -> None:
        """ADMIN, this program's PARTNER, or one of its customers may read program-level data."""
        self.require_authenticated()
        if not (
            self.manages(program_id)
            or (self.role is Role.CUSTOMER and self.program_id == program_id)
        ):
            raise Forbidden("this token may not read that program")

    def require_details(self, program_id: int, customer_id: int) -> None:
        """Other customers appear to a CUSTOMER token with their display name only."""
        self.require_authenticated()
        if not self.sees_details_of(program_id, customer_id):
            raise Forbidden("this token may see only the display name of that customer")


ANONYMOUS = Principal(Role.ANONYMOUS)
