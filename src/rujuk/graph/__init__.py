"""The in-memory referral graph of each program: traversal, tiers, rewards, rankings."""

from rujuk.graph.referral_graph import DownlineEntry, Member, ReferralGraph
from rujuk.graph.store import GraphStore

__all__ = ["DownlineEntry", "GraphStore", "Member", "ReferralGraph"]
