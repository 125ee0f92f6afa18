"""The words of the domain, defined once: every layer (the GraphQL enums in schema/enums.py,
services, the graph, the SQL CHECK lists: see tests/test_vocabulary.py) uses these.

Members are strings (StrEnum): they compare equal to, hash like and are stored as their
values. This module imports nothing from rujuk.
"""

from __future__ import annotations

from enum import StrEnum


class RewardKind(StrEnum):
    """What a reward pays for (reward.kind)."""

    REFERRER_COMMISSION = "REFERRER_COMMISSION"
    REFEREE_WELCOME = "REFEREE_WELCOME"
    # Contract v2 (issue 17): reward.kind allows it since migration 0009.
    MILESTONE_BONUS = "MILESTONE_BONUS"


class RewardStatus(StrEnum):
    """Where a reward stands (reward.status, reward_entry.status)."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REVERSED = "REVERSED"


class LedgerEntryKind(StrEnum):
    """Why a reward's amount or status changed (reward_entry.kind)."""

    EARNED = "EARNED"
    REFUND = "REFUND"
    APPROVED = "APPROVED"
    REVERSED = "REVERSED"


class ReferralStatus(StrEnum):
    """The state of a referral link (referral.status)."""

    ACTIVE = "ACTIVE"
    FLAGGED = "FLAGGED"
    REJECTED = "REJECTED"


class ReviewDecision(StrEnum):
    """What a review of a flagged referral decides."""

    APPROVE = "APPROVE"
    REJECT = "REJECT"


class CodeKind(StrEnum):
    """How often a referral code may be used (referral_code.kind)."""

    SINGLE_USE = "SINGLE_USE"
    MULTI_USE = "MULTI_USE"


class Channel(StrEnum):
    """Where a customer came from (customer.channel, referral.channel)."""

    DIRECT = "DIRECT"
    INSTAGRAM = "INSTAGRAM"
    FACEBOOK = "FACEBOOK"
    TIKTOK = "TIKTOK"
    WHATSAPP = "WHATSAPP"
    INFLUENCER = "INFLUENCER"
    EMAIL = "EMAIL"
    OTHER = "OTHER"


class TokenRole(StrEnum):
    """Who an API token speaks for (api_token.role)."""

    ADMIN = "ADMIN"
    PARTNER = "PARTNER"


class InfluenceMetric(StrEnum):
    """What a leaderboard ranks by."""

    DIRECT_REFERRALS = "DIRECT_REFERRALS"
    NETWORK_SIZE = "NETWORK_SIZE"
    NETWORK_REVENUE = "NETWORK_REVENUE"
    INFLUENCE = "INFLUENCE"
    PAGERANK = "PAGERANK"


class FraudSignal(StrEnum):
    """Why a sign-up that passed looks wrong (referral.fraud_signals; rewards.md)."""

    SHARED_DEVICE = "SHARED_DEVICE"
    DUPLICATE_CONTACT = "DUPLICATE_CONTACT"
    VELOCITY = "VELOCITY"
    DISPOSABLE_EMAIL = "DISPOSABLE_EMAIL"
    SHARED_IP = "SHARED_IP"


class GraphEventKind(StrEnum):
    """The changes to a referral graph (graph_event.kind): see graph/events.py."""

    CUSTOMER_REGISTERED = "customer_registered"
    PURCHASE_RECORDED = "purchase_recorded"
    PURCHASE_REFUNDED = "purchase_refunded"
    REFERRAL_REVIEWED = "referral_reviewed"
    CUSTOMER_ERASED = "customer_erased"
    PROGRAM_UPDATED = "program_updated"


class WebhookDeliveryStatus(StrEnum):
    """Where a webhook delivery stands (webhook_delivery.status)."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
