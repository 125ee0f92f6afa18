"""The contract's enums: the domain's vocabulary (rujuk.vocabulary) served as GraphQL enums,
with the contract's descriptions. A GraphQL enum here is its domain enum itself, so the
services take and return the values the API layer passes through."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import strawberry

from rujuk.compat.strawberry import describe_enum_values
from rujuk.vocabulary import (
    Channel,
    CodeKind,
    InfluenceMetric,
    ReferralStatus,
    ReviewDecision,
    RewardKind,
    RewardStatus,
    TokenRole,
    WebhookDeliveryStatus,
)

__all__ = [
    "Channel",
    "CodeKind",
    "InfluenceMetric",
    "ReferralStatus",
    "ReviewDecision",
    "RewardKind",
    "RewardStatus",
    "TokenRole",
    "WebhookDeliveryStatus",
]


def _served(
    domain: type[StrEnum], description: str | None = None, values: Mapping[str, str] = {}
) -> None:
    """Serve a domain enum under its own name, with descriptions of the enum and its values."""
    unknown = set(values) - {m.name for m in domain}
    if unknown:
        raise ValueError(f"{domain.__name__} has no value {sorted(unknown)}")
    describe_enum_values(strawberry.enum(domain, description=description), values)


_served(Channel)
_served(
    CodeKind,
    values={
        "SINGLE_USE": "Usable by exactly one new customer.",
        "MULTI_USE": "Usable by many new customers, up to maxUses when set.",
    },
)
_served(
    ReferralStatus,
    values={
        "FLAGGED": "Suspicious: held for review; rewards that flow through it stay PENDING.",
        "REJECTED": "Rejected on review: pays nobody above it, ever.",
    },
)
_served(
    RewardKind,
    values={
        "REFERRER_COMMISSION": "Paid to an ancestor of the purchaser, at level 1 (the referrer)"
        " and up.",
        "REFEREE_WELCOME": "Paid once to a referred customer on their first eligible purchase"
        " (level 0).",
        "MILESTONE_BONUS": "Paid once per milestone when a customer's qualifiedReferrals reaches"
        " it (level 0).",
    },
)
_served(RewardStatus)
_served(InfluenceMetric)
_served(ReviewDecision)
_served(TokenRole)
_served(
    WebhookDeliveryStatus,
    description="PENDING: waiting for its next attempt; DELIVERED: answered with a 2xx status; "
    "FAILED: every attempt failed until the retry window (3 days) passed.",
)
