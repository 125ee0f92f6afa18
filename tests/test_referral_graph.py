"""ReferralGraph.from_table (the bulk load) computes every figure exactly as the events
(add_member, record_spend) maintain it, whatever the amounts' form (the database hands
20000 back as 2E+4)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from rujuk.graph.referral_graph import (
    ACTIVE,
    FLAGGED,
    REJECTED,
    Member,
    MemberTable,
    ReferralGraph,
)

FIGURES = ("network_size", "qualified_referrals", "network_revenue", "influence_units")


def forest(seed: int, amounts: list[str], reach: int = 6) -> list[Member]:
    """Members in id order, referrers first: chains, bushes and roots, some spending.

    Each referrer is one of the `reach` customers before: a reach of 1 makes chains 60-80
    deep (influence past int64 at load), longer ones bushes and shallow forests.
    """
    rng = random.Random(seed)
    members: list[Member] = []
    for i in range(1, 400):
        referrer = None if i == 1 or rng.random() < 0.05 else rng.randrange(max(1, i - reach), i)
        status = None if referrer is None else rng.choice([ACTIVE] * 6 + [FLAGGED, REJECTED])
        member = Member(i, f"c{i}", rng.randrange(10**15), referrer, status)
        if rng.random() < 0.4:
            member.spend = Decimal(rng.choice(amounts))
            member.purchases = 1
        members.append(member)
    return members


def shown(value: int | Decimal) -> str:
    """A figure as the API serialises it (Decimal scalars in fixed-point notation)."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def incremental(members: list[Member]) -> ReferralGraph:
    """The same members applied one event at a time."""
    graph = ReferralGraph(1)
    for m in members:
        graph.add_member(Member(m.id, m.external_id, m.joined_micros, m.referrer, m.link_status))
    for m in members:
        if m.purchases:
            graph.record_spend(m.id, m.spend, purchases=m.purchases)
    return graph


@pytest.mark.parametrize(
    "amounts",
    [["150000", "2E+4", "999"], ["12.50", "0.01", "7"], ["150000.00", "3e3", "1"]],
    ids=["whole", "cents", "mixed-exponents"],
)
@pytest.mark.parametrize("reach", [1, 6, 400], ids=["chains", "bushes", "shallow"])
@pytest.mark.parametrize("seed", range(5))
def test_bulk_figures_equal_the_incremental_ones(seed: int, amounts: list[str], reach: int) -> None:
    loaded = ReferralGraph.from_table(1, MemberTable.of(forest(seed, amounts, reach)))
    followed = incremental(forest(seed, amounts, reach))
    for member_id, member in loaded.members.items():
        other = followed.members[member_id]
        for figure in FIGURES:
            # As the API writes them: 150000.00 is not 150000 there.
            assert shown(getattr(member, figure)) == shown(getattr(other, figure)), (
                member_id,
                figure,
            )
    assert sum(m.network_revenue > 0 for m in loaded.members.values()) > 50


def test_the_forests_take_both_ways_of_summing_influence() -> None:
    # The load sums influence in int64 while n * 2**height fits, in Python integers past it.
    def fits_int64(members: list[Member]) -> bool:
        graph = ReferralGraph.from_table(1, MemberTable.of(members))
        return len(members).bit_length() + max(graph.depth(m.id) for m in members) < 62

    cases = [(seed, amounts) for seed in range(5) for amounts in (["1"], ["12.50", "0.01"])]
    assert not all(fits_int64(forest(seed, amounts, 1)) for seed, amounts in cases)
    assert all(fits_int64(forest(seed, amounts, 400)) for seed, amounts in cases)
