"""The five influence metrics of rewards.md for every customer of a program, vectorised.

A ranking is computed from a snapshot of the graph's members, off the event loop; the
graph keeps changing meanwhile, so a ranking is labelled with the version it started from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from rujuk.graph.referral_graph import INFLUENCE_ONE, REJECTED, Member
from rujuk.vocabulary import InfluenceMetric

DAMPING = 0.85
# rewards.md: within 1e-9 of each exact score. The error after an iteration is at most
# DAMPING / (1 - DAMPING) times its L1 change, so stop when the change is below this.
PAGERANK_L1_TOLERANCE = 1e-12
PAGERANK_MAX_ITERATIONS = 1000
TIE_TOLERANCE = 1e-9

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Ranking:
    """Every metric's score for every customer of one program at one graph version."""

    version: int
    computed_at: datetime
    customer_ids: npt.NDArray[np.int64]
    # A tuple of strings, which the garbage collector stops tracking: a list of a million
    # would be walked by every full collection while the ranking is cached (5-10 ms each,
    # the event loop stopped).
    external_ids: tuple[str, ...]
    erased: npt.NDArray[np.bool_]
    scores: dict[InfluenceMetric, FloatArray]
    # Answers already given: a ranking never changes, and leaderboards ask the same again.
    _tops: dict[tuple[InfluenceMetric, int], list[tuple[int, float]]] = field(default_factory=dict)

    def top(self, metric: InfluenceMetric, first: int) -> list[tuple[int, float]]:
        """(customer id, score) of the best `first` customers, ties by externalId ascending."""
        found = self._tops.get((metric, first))
        if found is None:
            found = self._tops[(metric, first)] = self._top(metric, first)
        return found

    def _top(self, metric: InfluenceMetric, first: int) -> list[tuple[int, float]]:
        scores = self.scores[metric]
        eligible = np.flatnonzero(~self.erased)
        if first <= 0 or eligible.size == 0:
            return []
        values = scores[eligible]
        if eligible.size > first:
            # Everyone who could tie with the cut-off must be sorted with the rest.
            kth = np.partition(values, eligible.size - first)[eligible.size - first]
            keep = values >= kth - abs(kth) * TIE_TOLERANCE - 1e-300
            eligible, values = eligible[keep], values[keep]
        order = np.argsort(-values, kind="stable")
        ranked = [(int(i), float(s)) for i, s in zip(eligible[order], values[order], strict=True)]
        return [
            (int(self.customer_ids[i]), score)
            for i, score in _break_ties(ranked, self.external_ids)[:first]
        ]


def _break_ties(
    ranked: list[tuple[int, float]], external_ids: Sequence[str]
) -> list[tuple[int, float]]:
    """Within runs of scores that differ by less than 1e-9 relative, order by externalId."""
    result: list[tuple[int, float]] = []
    run: list[tuple[int, float]] = []
    for entry in ranked:
        if run and not _ties(run[0][1], entry[1]):
            result.extend(sorted(run, key=lambda e: external_ids[e[0]]))
            run = []
        run.append(entry)
    result.extend(sorted(run, key=lambda e: external_ids[e[0]]))
    return result


def _ties(a: float, b: float) -> bool:
    return abs(a - b) <= TIE_TOLERANCE * max(abs(a), abs(b))


def compute_ranking(members: Sequence[Member], version: int) -> Ranking:
    """Score every member by every metric (pure: safe to run in a thread on a snapshot)."""
    n = len(members)

    def column(name: str, dtype: type) -> npt.NDArray[Any]:
        # map + attrgetter reads one attribute of every member in a C-level loop.
        return np.fromiter(map(attrgetter(name), members), dtype=dtype, count=n)

    customer_ids = column("id", np.int64)
    parent_ids = np.fromiter(
        (-1 if r is None else r for r in map(attrgetter("referrer"), members)),
        dtype=np.int64,
        count=n,
    )
    counted = np.fromiter(
        (s != REJECTED for s in map(attrgetter("link_status"), members)), dtype=np.bool_, count=n
    )
    # Rows of each referrer in the snapshot, found by binary search on the sorted ids.
    order = np.argsort(customer_ids, kind="stable")
    sorted_ids = customer_ids[order]
    positions = np.clip(np.searchsorted(sorted_ids, parent_ids), 0, max(n - 1, 0))
    counted &= (parent_ids >= 0) & (sorted_ids[positions] == parent_ids)
    referees = np.flatnonzero(counted)
    referrer_rows = order[positions[referees]]
    scores = {
        InfluenceMetric.DIRECT_REFERRALS: np.bincount(referrer_rows, minlength=n).astype(
            np.float64
        ),
        InfluenceMetric.NETWORK_SIZE: column("network_size", np.float64),
        InfluenceMetric.NETWORK_REVENUE: np.fromiter(
            map(float, map(attrgetter("network_revenue"), members)), dtype=np.float64, count=n
        ),
        InfluenceMetric.INFLUENCE: np.fromiter(
            (u / INFLUENCE_ONE for u in map(attrgetter("influence_units"), members)),
            dtype=np.float64,
            count=n,
        ),
        InfluenceMetric.PAGERANK: pagerank(n, referees, referrer_rows),
    }
    return Ranking(
        version=version,
        computed_at=datetime.now(UTC),
        customer_ids=customer_ids,
        external_ids=tuple(map(attrgetter("external_id"), members)),
        erased=column("erased", np.bool_),
        scores=scores,
    )


def pagerank(n: int, sources: npt.NDArray[np.int64], targets: npt.NDArray[np.int64]) -> FloatArray:
    """PageRank as networkx.pagerank defines it (uniform teleport, dangling rank spread
    uniformly) of the graph with an edge sources[i] -> targets[i].

    A referral forest has at most one out-edge per customer: then the fixed point has a
    closed form, computed exactly level by level. Any other graph is solved by power
    iteration, converged far past networkx's default tolerance.
    """
    if n == 0:
        return np.zeros(0)
    out_degree = np.bincount(sources, minlength=n)
    if out_degree.max(initial=0) <= 1:
        return _forest_pagerank(n, sources, targets)
    return _iterated_pagerank(n, sources, targets, out_degree.astype(np.float64))


def _forest_pagerank(
    n: int, sources: npt.NDArray[np.int64], targets: npt.NDArray[np.int64]
) -> FloatArray:
    # With one out-edge at most, every rank is r(v) = c + DAMPING * (sum of v's children's
    # ranks), c being the same for all (teleport plus the spread dangling rank). So
    # r(v) = c * S(v), S(v) = sum over v's subtree of DAMPING ** distance, and the ranks
    # sum to 1: c = 1 / sum(S).
    parent = np.full(n, -1, dtype=np.int64)
    parent[sources] = targets
    depth = np.zeros(n, dtype=np.int64)
    above = parent.copy()
    climbing = np.flatnonzero(above >= 0)
    while climbing.size:
        depth[climbing] += 1
        above[climbing] = parent[above[climbing]]
        climbing = climbing[above[climbing] >= 0]
    weight = np.ones(n)
    by_depth = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[by_depth], np.arange(int(depth.max(initial=0)) + 2))
    for level in range(int(depth.max(initial=0)), 0, -1):
        rows = by_depth[bounds[level] : bounds[level + 1]]
        weight += DAMPING * np.bincount(parent[rows], weights=weight[rows], minlength=n)
    result: FloatArray = weight / weight.sum()
    return result


def _iterated_pagerank(
    n: int,
    sources: npt.NDArray[np.int64],
    targets: npt.NDArray[np.int64],
    out_degree: FloatArray,
) -> FloatArray:
    # Imported here: only graphs that are not forests need it (0.2 s of every start-up).
    import scipy.sparse as sp

    # Column-stochastic transition: rank flows along each edge, split by out-degree.
    weights = 1.0 / out_degree[sources]
    transition = sp.csr_array((weights, (targets, sources)), shape=(n, n))
    dangling = out_degree == 0
    rank = np.full(n, 1.0 / n)
    for _ in range(PAGERANK_MAX_ITERATIONS):
        previous = rank
        dangling_share = previous[dangling].sum() / n
        rank = DAMPING * (transition @ previous + dangling_share) + (1.0 - DAMPING) / n
        if np.abs(rank - previous).sum() < PAGERANK_L1_TOLERANCE:
            break
    result: FloatArray = rank
    return result
