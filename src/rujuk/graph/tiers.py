"""Which tier a customer holds."""

from __future__ import annotations

from rujuk.graph.referral_graph import Member
from rujuk.records import Program, TierRule


def tier_of(program: Program, member: Member) -> TierRule:
    """The last tier, in the program's order, whose two thresholds the member meets."""
    held = program.tiers[0]
    for tier in program.tiers:
        if (
            tier.min_qualified_referrals <= member.qualified_referrals
            and tier.min_network_revenue <= member.network_revenue
        ):
            held = tier
    return held
