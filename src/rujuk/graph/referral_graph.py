"""One program's referral tree in memory, on a networkx DiGraph (edges referrer -> referee).

The structural tree holds every link. The effective tree cuts REJECTED links; each member
keeps its effective-tree figures (qualified referrals, network size and revenue, influence)
up to date as events arrive, in O(depth) per event.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from rujuk.compat.networkx import adjacency_changed, adopted_digraph, node_table, successor_table
from rujuk.graph.reward_book import RewardBook
from rujuk.vocabulary import ReferralStatus

# Plain strings, as the load and the events bring them: compared on the hot paths.
ACTIVE = ReferralStatus.ACTIVE.value
FLAGGED = ReferralStatus.FLAGGED.value
REJECTED = ReferralStatus.REJECTED.value

# Influence is kept exact as an integer in units of 2**-INFLUENCE_BITS: a descendant at
# distance d adds 2**(INFLUENCE_BITS - d + 1), so sums and removals never drift.
INFLUENCE_BITS = 128
INFLUENCE_ONE = 1 << INFLUENCE_BITS
ZERO = Decimal(0)


@dataclass(slots=True)
class Member:
    """A customer as the graph sees it, with its effective-tree figures."""

    id: int
    external_id: str
    # When the customer joined, in microseconds since the Unix epoch: only ever a sort key,
    # and a million integers decode 0.8 s faster at start than a million timestamps.
    joined_micros: int
    referrer: int | None = None
    link_status: str | None = None
    erased: bool = False
    spend: Decimal = ZERO
    purchases: int = 0
    qualified_referrals: int = 0
    network_size: int = 0
    network_revenue: Decimal = ZERO
    influence_units: int = 0

    @property
    def join_order(self) -> tuple[int, int]:
        """Sort key of referees and of each downline level: oldest first, then by id."""
        return (self.joined_micros, self.id)

    @property
    def has_effective_referrer(self) -> bool:
        """Whether the customer hangs under a referrer in the effective tree."""
        return self.referrer is not None and self.link_status != REJECTED

    @property
    def qualified(self) -> bool:
        """rewards.md: own link ACTIVE and spend above 0."""
        return self.link_status == ACTIVE and self.spend > 0

    @property
    def influence(self) -> float:
        """Sum over descendants d of 0.5 ** (dist - 1)."""
        return self.influence_units / INFLUENCE_ONE


@dataclass(frozen=True, slots=True)
class DownlineEntry:
    """One customer below another: how deep, and under whom."""

    customer_id: int
    depth: int
    parent_id: int


@dataclass(slots=True)
class MemberTable:
    """One program's customers as columns in id order, the shape of a bulk load, with the
    purchase totals (net spend, purchases) of those who bought, by customer id."""

    ids: list[int] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)
    joined_micros: list[int] = field(default_factory=list)
    referrers: list[int | None] = field(default_factory=list)
    link_statuses: list[str | None] = field(default_factory=list)
    erased: list[bool] = field(default_factory=list)
    spends: dict[int, tuple[Decimal, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, members: Iterable[Member]) -> MemberTable:
        """The table of members (in id order) and what they spent."""
        table = cls()
        for m in members:
            table.ids.append(m.id)
            table.external_ids.append(m.external_id)
            table.joined_micros.append(m.joined_micros)
            table.referrers.append(m.referrer)
            table.link_statuses.append(m.link_status)
            table.erased.append(m.erased)
            if m.purchases or m.spend is not ZERO:
                table.spends[m.id] = (m.spend, m.purchases)
        return table


class ReferralGraph:
    """The referral tree of one program (every link, whatever its status)."""

    def __init__(self, program_id: int) -> None:
        self.program_id = program_id
        # The last graph_event version applied: see GraphStore.
        self.version = 0
        self.members: dict[int, Member] = {}
        self.tree = _referral_tree(self.members, Referees(self.members))
        self.by_external_id: dict[str, int] = {}
        # What the reward rules read of the program's ledger: see graph/reward_book.py.
        self.book = RewardBook()

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self.members

    def __len__(self) -> int:
        return len(self.members)

    @classmethod
    def from_table(cls, program_id: int, table: MemberTable) -> ReferralGraph:
        """Build a graph from a bulk load, computing every figure bottom-up.

        The figures are computed by position before any Member exists, so that each Member
        is built whole in one call: sizes, qualified referrals and influence level by level
        with numpy (exact integers), revenue in Decimal, added up the tree only where a
        subtree has spent.
        """
        graph = cls(program_id)
        n = len(table.ids)
        if n == 0:
            if table.spends:
                raise ValueError("a member table's spends are its own customers'")
            return graph
        ids = np.array(table.ids, dtype=np.int64)
        if not bool((ids[1:] > ids[:-1]).all()):
            raise ValueError("a member table lists its customers in id order")
        spender_ids = np.fromiter(table.spends, np.int64, len(table.spends))
        spenders = np.searchsorted(ids, spender_ids).clip(max=n - 1)
        if not bool((ids[spenders] == spender_ids).all()):
            raise ValueError("a member table's spends are its own customers'")
        spend = np.full(n, ZERO, dtype=object)
        spend[spenders] = [amount for amount, _ in table.spends.values()]
        purchases = np.zeros(n, dtype=np.int64)
        purchases[spenders] = [count for _, count in table.spends.values()]
        # Customer ids start at 1 (identity columns): 0 stands for no referrer.
        referrer_ids = np.array([up or 0 for up in table.referrers], dtype=np.int64)
        linked = referrer_ids > 0
        parent = np.full(n, -1, dtype=np.int64)
        parent[linked] = np.searchsorted(ids, referrer_ids[linked])
        statuses = np.array(table.link_statuses, dtype=object)
        effective = linked & np.not_equal(statuses, REJECTED)
        positive = np.zeros(n, dtype=np.bool_)
        positive[spenders] = [amount > 0 for amount, _ in table.spends.values()]
        qualified = np.equal(statuses, ACTIVE) & positive
        spent = np.zeros(n, dtype=np.int64)
        spent[spenders] = 1
        depth = _depths(parent)
        # Deepest first; within a level the order does not matter to integer sums.
        order = np.argsort(-depth, kind="stable")
        order = order[effective[order]]
        levels = np.split(order, np.flatnonzero(np.diff(depth[order])) + 1)
        height = int(depth.max())
        size = np.zeros(n, dtype=np.int64)
        referrals = np.bincount(parent[effective & qualified], minlength=n)
        # Influence in units of 2**-(height - 1) fits int64 while n * 2**height does.
        exact_in_int64 = height < INFLUENCE_BITS and n.bit_length() + height < 62
        units = np.zeros(n, dtype=np.int64)
        for level in levels:
            ups = parent[level]
            np.add.at(size, ups, size[level] + 1)
            np.add.at(spent, ups, spent[level])
            if exact_in_int64:
                np.add.at(units, ups, (1 << height) + (units[level] >> 1))
        upline = parent.tolist()
        spends = spend.tolist()
        influence: list[int]
        if exact_in_int64:
            shift = INFLUENCE_BITS - height
            influence = [u << shift if u else 0 for u in units.tolist()]
        else:
            influence = [0] * n
            for i in order.tolist():
                influence[upline[i]] += INFLUENCE_ONE + (influence[i] >> 1)
        # Revenue only climbs from subtrees where someone spent, deepest first like the sums
        # above. A zero spend from the database is never ZERO itself; ZERO adds nothing.
        revenue = [ZERO] * n
        for i in order[spent[order] > 0].tolist():
            below = revenue[i]
            if spends[i] is not ZERO or below is not ZERO:
                up = upline[i]
                revenue[up] = revenue[up] + (spends[i] + below)
        members = list(
            map(
                Member,
                table.ids,
                table.external_ids,
                table.joined_micros,
                table.referrers,
                table.link_statuses,
                table.erased,
                spends,
                purchases.tolist(),
                referrals.tolist(),
                size.tolist(),
                revenue,
                influence,
            )
        )
        graph.members = by_id = dict(zip(table.ids, members, strict=True))
        graph.by_external_id = dict(zip(table.external_ids, table.ids, strict=True))
        graph.tree = _referral_tree(by_id, Referees(by_id, table.ids, parent))
        return graph

    # Events --------------------------------------------------------------------------

    def add_member(self, member: Member) -> None:
        """A new customer signed up under its referrer (if any)."""
        self.members[member.id] = member
        self.by_external_id[member.external_id] = member.id
        # Straight into the adjacency, which networkx does not write (see _referral_tree).
        tree = self.tree
        node_table(tree).setdefault(member.id, NO_ATTRIBUTES)
        if member.referrer is not None:
            successor_table(tree).add(member.referrer, member.id)
        adjacency_changed(tree)
        self._spread(member, +1)

    def set_link_status(self, referee_id: int, status: str) -> None:
        """A review changed the status of a referee's link."""
        member = self.members[referee_id]
        # Take the subtree out under the old status and put it back under the new one:
        # qualification and the effective tree both follow the status.
        if member.has_effective_referrer:
            self._spread(member, -1)
        member.link_status = status
        if member.has_effective_referrer:
            self._spread(member, +1)

    def record_spend(self, customer_id: int, delta: Decimal, *, purchases: int) -> None:
        """The customer's spend moved by delta and its purchase count by purchases: a
        purchase (+amount, 1), a refund (-amount, 0), or a purchase taken back (-amount, -1).
        """
        member = self.members[customer_id]
        was_qualified = member.qualified
        member.spend += delta
        member.purchases += purchases
        if member.has_effective_referrer and member.qualified != was_qualified:
            assert member.referrer is not None
            self.members[member.referrer].qualified_referrals += 1 if member.qualified else -1
        for ancestor, _ in self.effective_ancestors(customer_id):
            ancestor.network_revenue += delta

    def erase(self, customer_id: int) -> None:
        """The customer's personal data was erased: it keeps its place, earns nothing."""
        self.members[customer_id].erased = True

    def _spread(self, member: Member, sign: int) -> None:
        """Add (+1) or remove (-1) the member's effective subtree from every effective ancestor."""
        size = 1 + member.network_size
        revenue = member.spend + member.network_revenue
        # At distance 1 the subtree weighs 1 + influence/2, halving at each level up.
        weight = INFLUENCE_ONE + (member.influence_units >> 1)
        for ancestor, distance in self.effective_ancestors(member.id):
            ancestor.network_size += sign * size
            ancestor.network_revenue += sign * revenue
            ancestor.influence_units += sign * (weight >> (distance - 1))
        if member.has_effective_referrer and member.qualified:
            assert member.referrer is not None
            self.members[member.referrer].qualified_referrals += sign

    # Traversal -----------------------------------------------------------------------

    def effective_ancestors(self, customer_id: int) -> Iterator[tuple[Member, int]]:
        """The upline in the effective tree with each ancestor's distance, nearest first."""
        members = self.members
        node = members[customer_id]
        distance = 0
        while node.referrer is not None and node.link_status != REJECTED:
            distance += 1
            node = members[node.referrer]
            yield node, distance

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


def _referral_tree(by_id: Mapping[int, Member], referees: Referees) -> nx.DiGraph:
    """A networkx DiGraph of every member and link (referrer -> referee) whose adjacency is
    stored compactly: a dict per customer on each side cost a million-customer start-up
    over a second and ~0.4 GB. The successor side is Referees, the predecessor side
    Referrers (read from the members), and every node's and link's attributes are one
    shared empty read-only mapping. The graph is frozen for networkx (its add_* and
    remove_* raise before writing): writes go through ReferralGraph.add_member.
    """
    return adopted_digraph(dict.fromkeys(by_id, NO_ATTRIBUTES), referees, Referrers(by_id))


class _Adjacency(Mapping[int, Mapping[int, Mapping[str, object]]]):
    """One side of the tree's adjacency, keyed by the members (every customer is a node)."""

    __slots__ = ("_members",)
    _members: Mapping[int, Member]

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._members

    def __iter__(self) -> Iterator[int]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)


class Referees(_Adjacency):
    """The tree's successor side: each customer's referees, oldest id first.

    Those of the bulk load sit in flat arrays (for each loaded id, where its referees start
    in one array grouped by referrer), where dicts for half a million referrers cost 0.17 GB
    and half a second at 1M customers; a lookup costs about a microsecond more than a dict's.
    A customer who gains a referee later gets a dict, its loaded referees copied in.
    """

    __slots__ = ("_grown", "_ids", "_referees", "_starts")

    def __init__(
        self,
        members: Mapping[int, Member],
        ids: list[int] | None = None,
        parent: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Referees of `members`; with a bulk load, the loaded `ids` in order (the list is
        kept, not copied) and each one's `parent` position (-1 for none)."""
        self._members = members
        self._ids: list[int] = ids if ids is not None else []
        if parent is None:
            parent = np.zeros(0, dtype=np.int64)
        linked = np.flatnonzero(parent >= 0)
        # Stable: each referrer's referees stay in id order.
        by_referrer = linked[np.argsort(parent[linked], kind="stable")]
        starts = np.zeros(len(self._ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(parent[linked], minlength=len(self._ids)), out=starts[1:])
        # Read through memoryviews (.data): indexed from Python without numpy's overhead.
        self._starts = starts.data
        self._referees = np.array(self._ids, dtype=np.int64)[by_referrer].data
        self._grown: dict[int, dict[int, Mapping[str, object]]] = {}

    def add(self, referrer: int, referee: int) -> None:
        """A new referee of `referrer` (a member)."""
        grown = self._grown.get(referrer)
        if grown is None:
            grown = self._grown[referrer] = dict(self[referrer])
        grown[referee] = NO_ATTRIBUTES

    def __getitem__(self, customer_id: int) -> Mapping[int, Mapping[str, object]]:
        grown = self._grown.get(customer_id)
        if grown is not None:
            return MappingProxyType(grown)
        ids = self._ids
        at = bisect_left(ids, customer_id)
        if at == len(ids) or ids[at] != customer_id:
            if customer_id not in self._members:
                raise KeyError(customer_id)
            return NO_ATTRIBUTES  # joined after the load, no referee yet
        start, stop = self._starts[at], self._starts[at + 1]
        if start == stop:
            return NO_ATTRIBUTES
        return MappingProxyType(dict.fromkeys(self._referees[start:stop], NO_ATTRIBUTES))


class Referrers(_Adjacency):
    """The tree's predecessor side, read from the members: in a tree a customer has at most
    one referrer, which Member.referrer holds already (a dict per customer costs ~0.25 GB
    at a million)."""

    __slots__ = ()

    def __init__(self, members: Mapping[int, Member]) -> None:
        self._members = members

    def __getitem__(self, customer_id: int) -> Mapping[int, Mapping[str, object]]:
        up = self._members[customer_id].referrer
        return NO_ATTRIBUTES if up is None else MappingProxyType({up: NO_ATTRIBUTES})


NO_ATTRIBUTES: Mapping[Any, Any] = MappingProxyType({})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def epoch_micros(moment: datetime) -> int:
    """A timezone-aware moment in whole microseconds since the Unix epoch (exact)."""
    return (moment - EPOCH) // MICROSECOND


def _depths(parent: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each node's distance to its root, by pointer jumping (log of the height rounds)."""
    depth = (parent >= 0).astype(np.int64)
    jump = parent.copy()
    while True:
        linked = jump >= 0
        if not linked.any():
            return depth
        targets = jump[linked]
        depth[linked] += depth[targets]
        jump[linked] = jump[targets]
