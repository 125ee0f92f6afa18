"""Figures measured inside the bench process: graph load, ancestor walks, rankings, stats."""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass

import networkx as nx

from rujuk.db import stats as stats_queries
from rujuk.db.pool import Pool
from rujuk.errors import ServiceUnavailable
from rujuk.graph.rankings import compute_ranking
from rujuk.graph.referral_graph import ReferralGraph
from rujuk.graph.store import GraphStore
from rujuk.vocabulary import InfluenceMetric

# The baseline's fetch: every customer with its link, one Record each (how rujuk read them
# before its load took arrays in blocks).
BASELINE_ROWS = """SELECT c.id, c.external_id, (extract(epoch FROM c.joined_at) * 1000000)::bigint,
                          r.referrer_id, r.status, c.erased_at IS NOT NULL, c.program_id
                   FROM customer c LEFT JOIN referral r ON r.referee_id = c.id
                   ORDER BY c.id"""


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure, its same-run baseline and the issue's target (None: no target).

    `rule` says what the target bounds: "below" the value (a time), "ratio_at_least" the
    ratio to the baseline (a throughput against the floor's). Figures of several runs give
    their median as the value and every run in `runs` (and the baseline's in
    `baseline_runs`), printed as min/median/max.
    """

    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    target: float | None
    rule: str = "below"
    runs: tuple[float, ...] = ()
    baseline_runs: tuple[float, ...] = ()

    @property
    def ratio(self) -> float:
        """How many baselines the figure costs."""
        return self.value / self.baseline if self.baseline else float("nan")

    @property
    def verdict(self) -> str:
        """PASS/FAIL against the target, or '-' without one."""
        if self.target is None:
            return "-"
        if self.rule == "ratio_at_least":
            return "PASS" if self.ratio >= self.target else "FAIL"
        return "PASS" if self.value < self.target else "FAIL"

    @property
    def target_text(self) -> str:
        """The target as the table prints it."""
        if self.target is None:
            return "-"
        if self.rule == "ratio_at_least":
            return f">= {self.target:g} x"
        return f"< {self.target:g} {self.unit}"


def spread(values: tuple[float, ...]) -> str:
    """min/median/max of several runs ('' for none)."""
    if not values:
        return ""
    ordered = sorted(values)
    return "/".join(f"{v:.1f}" for v in (ordered[0], statistics.median(ordered), ordered[-1]))


async def graph_load_figures(pool: Pool) -> tuple[GraphStore, Figure]:
    """GraphStore.load on the seeded database against a bare fetch + nx.DiGraph(edges)."""
    store = GraphStore(pool)
    started = time.perf_counter()
    await store.load()
    load = time.perf_counter() - started
    gc.collect()
    # Baseline: the rows fetched (no objects built) and networkx fed the edge list directly.
    started = time.perf_counter()
    async with pool.acquire() as conn:
        rows = await conn.fetch(BASELINE_ROWS)
    edges = [(r[3], r[0]) for r in rows if r[3] is not None]
    del rows
    nx.DiGraph(edges)
    baseline = time.perf_counter() - started
    del edges
    gc.collect()
    return store, Figure(
        "GraphStore.load (in process)",
        load,
        "s",
        "asyncpg fetch + nx.DiGraph(edges)",
        baseline,
        10.0,
    )


def ancestor_figure(graph: ReferralGraph, deep_ids: list[int]) -> Figure:
    """ReferralGraph.ancestors(id, 10) per call on the deepest customers vs a parent list walk."""
    rounds = 200
    ids = deep_ids[:500]
    started = time.perf_counter()
    for _ in range(rounds):
        for customer in ids:
            graph.ancestors(customer, 10)
    walk = (time.perf_counter() - started) / (rounds * len(ids))
    size = max(graph.members) + 1
    parent: list[int] = [-1] * size
    for m in graph.members.values():
        if m.referrer is not None:
            parent[m.id] = m.referrer
    started = time.perf_counter()
    for _ in range(rounds):
        for customer in ids:
            found: list[int] = []
            up = parent[customer]
            while up >= 0 and len(found) < 10:
                found.append(up)
                up = parent[up]
    baseline = (time.perf_counter() - started) / (rounds * len(ids))
    return Figure(
        "ancestors(id, 10), one walk",
        walk * 1e6,
        "us",
        "Python list parent walk",
        baseline * 1e6,
        20.0,
    )


def ranking_figures(graph: ReferralGraph) -> tuple[Figure, str]:
    """compute_ranking (all five) vs networkx: topological subtree sizes + default pagerank."""
    members = list(graph.members.values())
    started = time.perf_counter()
    ranking = compute_ranking(members, graph.version)
    ours = time.perf_counter() - started
    # The naive networkx formulation (one Python pass per metric).
    gc.disable()
    try:
        started = time.perf_counter()
        referee_to_referrer = nx.DiGraph()
        referee_to_referrer.add_nodes_from(graph.members)
        referee_to_referrer.add_edges_from(
            (m.id, m.referrer)
            for m in members
            if m.referrer is not None and m.link_status != "REJECTED"
        )
        size = dict.fromkeys(graph.members, 0)
        for node in nx.topological_sort(referee_to_referrer):
            for up in referee_to_referrer.successors(node):
                size[up] += 1 + size[node]
        nx_pagerank = nx.pagerank(referee_to_referrer, alpha=0.85)
        naive = time.perf_counter() - started
    finally:
        gc.enable()
    top_ours = {c for c, _ in ranking.top(InfluenceMetric.PAGERANK, 100)}
    top_nx = {c for c, _ in sorted(nx_pagerank.items(), key=lambda kv: -kv[1])[:100]}
    overlap = f"PageRank top 100: {len(top_ours & top_nx)}/100 shared with nx.pagerank(tol=1e-6)"
    figure = Figure(
        "compute_ranking, all five metrics",
        ours,
        "s",
        "networkx topo-order sizes + nx.pagerank",
        naive,
        3.0,
    )
    return figure, overlap


async def stats_figure(pool: Pool, program_id: int) -> Figure:
    """Program.stats' query over all time vs count(*) of the program's customers (medians of 3)."""
    ours: list[float] = []
    base: list[float] = []
    for _ in range(3):
        started = time.perf_counter()
        try:
            await stats_queries.program_stats(pool, program_id, None, None)
        except ServiceUnavailable:
            # The pool's statement timeout (30 s) cut it: report the timeout, try no more.
            ours.append(time.perf_counter() - started)
            base.append(base[-1] if base else float("nan"))
            break
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        await pool.fetchval("SELECT count(*) FROM customer WHERE program_id = $1", program_id)
        base.append(time.perf_counter() - started)
    return Figure(
        "Program.stats, all time",
        statistics.median(ours),
        "s",
        "SELECT count(*) FROM customer",
        statistics.median(base),
        1.0,
    )
