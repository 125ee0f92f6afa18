"""The contract's mutation payloads and the UserError they carry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import strawberry

from rujuk.compat.strawberry import graphql_name
from rujuk.errors import DomainError
from rujuk.schema.types import (
    ApiToken,
    Customer,
    Program,
    Purchase,
    Referral,
    ReferralCode,
    Reward,
)


@strawberry.type(
    description="An expected, user-facing failure of a mutation. code is one of:\n"
    "INVALID_CODE, CODE_EXPIRED, CODE_EXHAUSTED, SELF_REFERRAL, ALREADY_REGISTERED,\n"
    "UNKNOWN_CUSTOMER, UNKNOWN_PROGRAM, ORDER_CONFLICT, INVALID_AMOUNT,\n"
    "REFUND_EXCEEDS_PURCHASE, INVALID_PROGRAM_RULES, INVALID_INPUT, NOT_FOUND."
)
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "referralCode"].'
    )
    code: str
    message: str

    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(field=input_path(error.field), code=error.code, message=error.message)


def input_path(field: Sequence[str | int] | None) -> list[str] | None:
    """The GraphQL path of an input field a service named in Python: every mutation takes
    one `input`, so ("tiers", 0, "level_rates") is ["input", "tiers", "0", "levelRates"]."""
    if field is None:
        return None
    return ["input", *(graphql_name(p) if isinstance(p, str) else str(p) for p in field)]


@strawberry.type
class ProgramPayload:
    program: Program | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RegisterCustomerPayload:
    customer: Customer | None = None
    referral: Referral | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReferralCodePayload:
    referral_code: ReferralCode | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiTokenPayload:
    token: str | None = strawberry.field(
        default=None, description="Shown once; only a hash is stored."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    api_token: ApiToken | None = strawberry.field(
        default=None, description="What is stored about the new token (its id, for revoking)."
    )


@strawberry.type
class RevokeApiTokenPayload:
    api_token: ApiToken | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerTokenPayload:
    token: str | None = None
    expires_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerPayload:
    customer: Customer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReferralPayload:
    referral: Referral | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PurchasePayload:
    purchase: Purchase | None = None
    rewards: list[Reward] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SettleRewardsPayload:
    approved_count: int = 0
    approved_amount: Decimal = Decimal(0)
    user_errors: list[UserError] = strawberry.field(default_factory=list)
