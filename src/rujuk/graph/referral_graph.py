"""One program's referral tree in memory, on a networkx DiGraph (edges referrer -> referee)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import networkx as nx

ACTIVE = "ACTIVE"
FLAGGED = "FLAGGED"
REJECTED = "REJECTED"


@dataclass(slots=True)
class Member:
    """A customer as the graph sees it."""

    id: int
    external_id: str
    joined_at: datetime
    referrer: int | None = None
    link_status: str | None = None
    erased: bool = False

    @property
    def join_order(self) -> tuple[datetime, int]:
        """Sort key of referees and of each downline level: oldest first, then by id."""
        return (self.joined_at, self.id)


@dataclass(frozen=True, slots=True)
class DownlineEntry:
    """One customer below another: how deep, and under whom."""

    customer_id: int
    depth: int
    parent_id: int


class ReferralGraph:
    """The structural referral tree of one program (every link, whatever its status)."""

    def __init__(self, program_id: int) -> None:
        self.program_id = program_id
        # The last graph_event version applied: see GraphStore.
        self.version = 0
        self.tree = nx.DiGraph()
        self.members: dict[int, Member] = {}

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self.members

    def __len__(self) -> int:
        return len(self.members)

    def add_member(self, member: Member) -> None:
        """Add a new customer under its referrer (if any)."""
        self.members[member.id] = member
        self.tree.add_node(member.id)
        if member.referrer is not None:
            self.tree.add_edge(member.referrer, member.id)

    def set_link_status(self, referee_id: int, status: str) -> None:
        """A review changed the status of a referee's link."""
        self.members[referee_id].link_status = status

    def erase(self, customer_id: int) -> None:
        """The customer's personal data was erased: it keeps its place, earns nothing."""
        self.members[customer_id].erased = True

    def ancestors(self, customer_id: int, max_depth: int) -> list[int]:
        """The referrer, the referrer's referrer, ... at most max_depth of them, nearest first."""
        found: list[int] = []
        members = self.members
        up = members[customer_id].referrer
        while up is not None and len(found) < max_depth:
            found.append(up)
            up = members[up].referrer
        return found

    def depth(self, customer_id: int) -> int:
        """How many links lie between the customer and its root (0 for a root)."""
        depth = 0
        members = self.members
        up = members[customer_id].referrer
        while up is not None:
            depth += 1
            up = members[up].referrer
        return depth

    def referees(self, customer_id: int) -> list[int]:
        """Direct referees, oldest first."""
        members = self.members
        return sorted(self.tree.successors(customer_id), key=lambda c: members[c].join_order)

    def direct_referrals(self, customer_id: int) -> int:
        """Direct referees whose link is not REJECTED."""
        members = self.members
        return sum(
            1 for c in self.tree.successors(customer_id) if members[c].link_status != REJECTED
        )

    def downline(self, customer_id: int, max_depth: int) -> list[DownlineEntry]:
        """Everyone below, breadth first (by depth, then join time), down to max_depth."""
        return list(self._downline(customer_id, max_depth))

    def _downline(self, customer_id: int, max_depth: int) -> Iterator[DownlineEntry]:
        level = [customer_id]
        for depth in range(1, max_depth + 1):
            entries = [
                DownlineEntry(child, depth, parent)
                for parent in level
                for child in self.tree.successors(parent)
            ]
            if not entries:
                return
            entries.sort(key=lambda e: self.members[e.customer_id].join_order)
            yield from entries
            level = [e.customer_id for e in entries]
