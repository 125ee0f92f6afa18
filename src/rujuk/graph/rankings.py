"""The five influence metrics of rewards.md for every customer of a program, vectorised.

A ranking is computed from a snapshot of the graph's members, off the event loop; the
graph keeps changing meanwhile, so a ranking is labelled with the version it started from.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from rujuk.graph.referral_graph import INFLUENCE_ONE, REJECTED, Member

DAMPING = 0.85
# rewards.md: within 1e-9 of each exact score. The error after an iteration is at most
# DAMPING / (1 - DAMPING) times its L1 change, so stop when the change is below this.
PAGERANK_L1_TOLERANCE = 1e-12
PAGERANK_MAX_ITERATIONS = 1000
TIE_TOLERANCE = 1e-9

FloatArray = npt.NDArray[np.float64]


class Metric(enum.Enum):
    """What a leaderboard ranks by."""

    DIRECT_REFERRALS = "DIRECT_REFERRALS"
    NETWORK_SIZE = "NETWORK_SIZE"
    NETWORK_REVENUE = "NETWORK_REVENUE"
    INFLUENCE = "INFLUENCE"
    PAGERANK = "PAGERANK"


@dataclass(frozen=True, slots=True)
class Ranking:
    """Every metric's score for every customer of one program at one graph version."""

    version: int
    computed_at: datetime
    customer_ids: npt.NDArray[np.int64]
    external_ids: list[str]
    erased: npt.NDArray[np.bool_]
    scores: dict[Metric, FloatArray]

    def top(self, metric: Metric, first: int) -> list[tuple[int, float]]:
        """(customer id, score) of the best `first` customers, ties by externalId ascending."""
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
    ranked: list[tuple[int, float]], external_ids: list[str]
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
    index = {m.id: i for i, m in enumerate(members)}
    customer_ids = np.fromiter((m.id for m in members), dtype=np.int64, count=n)
    erased = np.fromiter((m.erased for m in members), dtype=np.bool_, count=n)
    # The links that count: every link but a REJECTED one, as (referee, referrer) indexes.
    linked = [
        (i, index[m.referrer])
        for i, m in enumerate(members)
        if m.referrer is not None and m.link_status != REJECTED and m.referrer in index
    ]
    referees = np.fromiter((a for a, _ in linked), dtype=np.int64, count=len(linked))
    referrers = np.fromiter((b for _, b in linked), dtype=np.int64, count=len(linked))
    scores = {
        Metric.DIRECT_REFERRALS: np.bincount(referrers, minlength=n).astype(np.float64),
        Metric.NETWORK_SIZE: np.fromiter(
            (m.network_size for m in members), dtype=np.float64, count=n
        ),
        Metric.NETWORK_REVENUE: np.fromiter(
            (float(m.network_revenue) for m in members), dtype=np.float64, count=n
        ),
        Metric.INFLUENCE: np.fromiter(
            (m.influence_units / INFLUENCE_ONE for m in members), dtype=np.float64, count=n
        ),
        Metric.PAGERANK: pagerank(n, referees, referrers),
    }
    return Ranking(
        version=version,
        computed_at=datetime.now(UTC),
        customer_ids=customer_ids,
        external_ids=[m.external_id for m in members],
        erased=erased,
        scores=scores,
    )


def pagerank(n: int, sources: npt.NDArray[np.int64], targets: npt.NDArray[np.int64]) -> FloatArray:
    """PageRank as networkx.pagerank defines it (uniform teleport, dangling rank spread
    uniformly), by power iteration on a sparse matrix, converged far past networkx's default.
    """
    if n == 0:
        return np.zeros(0)
    out_degree = np.bincount(sources, minlength=n).astype(np.float64)
    # Column-stochastic transition: rank flows from each referee to its referrer.
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
