"""The contract's enums."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum
class Channel(enum.Enum):
    DIRECT = "DIRECT"
    INSTAGRAM = "INSTAGRAM"
    FACEBOOK = "FACEBOOK"
    TIKTOK = "TIKTOK"
    WHATSAPP = "WHATSAPP"
    INFLUENCER = "INFLUENCER"
    EMAIL = "EMAIL"
    OTHER = "OTHER"


@strawberry.enum
class CodeKind(enum.Enum):
    SINGLE_USE = strawberry.enum_value(
        "SINGLE_USE", description="Usable by exactly one new customer."
    )
    MULTI_USE = strawberry.enum_value(
        "MULTI_USE", description="Usable by many new customers, up to maxUses when set."
    )


@strawberry.enum
class ReferralStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    FLAGGED = strawberry.enum_value(
        "FLAGGED",
        description="Suspicious: held for review; rewards that flow through it stay PENDING.",
    )
    REJECTED = strawberry.enum_value(
        "REJECTED", description="Rejected on review: pays nobody above it, ever."
    )


@strawberry.enum
class RewardKind(enum.Enum):
    REFERRER_COMMISSION = strawberry.enum_value(
        "REFERRER_COMMISSION",
        description="Paid to an ancestor of the purchaser, at level 1 (the referrer) and up.",
    )
    REFEREE_WELCOME = strawberry.enum_value(
        "REFEREE_WELCOME",
        description="Paid once to a referred customer on their first purchase (level 0).",
    )


@strawberry.enum
class RewardStatus(enum.Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REVERSED = "REVERSED"


@strawberry.enum
class InfluenceMetric(enum.Enum):
    DIRECT_REFERRALS = "DIRECT_REFERRALS"
    NETWORK_SIZE = "NETWORK_SIZE"
    NETWORK_REVENUE = "NETWORK_REVENUE"
    INFLUENCE = "INFLUENCE"
    PAGERANK = "PAGERANK"


@strawberry.enum
class ReviewDecision(enum.Enum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


@strawberry.enum
class TokenRole(enum.Enum):
    ADMIN = "ADMIN"
    PARTNER = "PARTNER"
