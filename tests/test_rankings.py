"""leaderboard: the five metrics, ties, erasure and rejection, checked against brute force."""

from __future__ import annotations

import gc
from typing import Any

import networkx as nx
import numpy as np
import pytest

from rujuk import ids
from rujuk.graph.rankings import pagerank
from tests.fixtures import create_program, register, register_ok
from tests.graphql_client import GraphQLClient
from tests.ledger import ERASE, REVIEW, paid

LEADERBOARD = """
query($p: ID!, $m: InfluenceMetric!, $n: Int!) {
  leaderboard(programId: $p, metric: $m, first: $n) {
    rank score stale computedAt customer { externalId }
  }
}"""

# referee -> referrer; roots map to None.
TREE: dict[str, str | None] = {
    "r1": None,
    "a": "r1",
    "b": "r1",
    "a1": "a",
    "a2": "a",
    "a11": "a1",
    "b1": "b",
    "r2": None,
    "z": "r2",
}


async def build(gql: GraphQLClient) -> tuple[str, dict[str, dict[str, Any]]]:
    program = await create_program(gql)
    customers: dict[str, dict[str, Any]] = {}
    for name, parent in TREE.items():
        code = None if parent is None else customers[parent]["referralCodes"][0]["code"]
        customers[name] = await register_ok(gql, program["id"], name, code)
    return program["id"], customers


async def board(gql: GraphQLClient, program_id: str, metric: str, n: int = 100) -> list[Any]:
    data = await gql.data(LEADERBOARD, {"p": program_id, "m": metric, "n": n})
    return [(e["customer"]["externalId"], e["score"]) for e in data["leaderboard"]]


def brute_force(tree: dict[str, str | None], spend: dict[str, int]) -> dict[str, dict[str, float]]:
    """Every metric by plain traversal of the effective tree."""
    children: dict[str, list[str]] = {n: [] for n in tree}
    for name, parent in tree.items():
        if parent is not None:
            children[parent].append(name)

    def below(name: str, distance: int = 1) -> list[tuple[str, int]]:
        found = []
        for child in children[name]:
            found.append((child, distance))
            found.extend(below(child, distance + 1))
        return found

    graph = nx.DiGraph()
    graph.add_nodes_from(tree)
    graph.add_edges_from((n, p) for n, p in tree.items() if p is not None)
    ranks = nx.pagerank(graph, alpha=0.85, tol=1e-15, max_iter=10_000)
    return {
        "DIRECT_REFERRALS": {n: float(len(children[n])) for n in tree},
        "NETWORK_SIZE": {n: float(len(below(n))) for n in tree},
        "NETWORK_REVENUE": {n: float(sum(spend.get(d, 0) for d, _ in below(n))) for n in tree},
        "INFLUENCE": {n: sum(0.5 ** (d - 1) for _, d in below(n)) for n in tree},
        "PAGERANK": ranks,
    }


def expected_board(scores: dict[str, float], erased: frozenset[str] = frozenset()) -> list[Any]:
    ranked = sorted(
        ((n, s) for n, s in scores.items() if n not in erased), key=lambda e: (-e[1], e[0])
    )
    return ranked


def assert_board(actual: list[Any], expected: list[Any]) -> None:
    assert [n for n, _ in actual] == [n for n, _ in expected]
    for (_, got), (_, want) in zip(actual, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "metric", ["DIRECT_REFERRALS", "NETWORK_SIZE", "NETWORK_REVENUE", "INFLUENCE", "PAGERANK"]
)
async def test_every_metric_matches_brute_force(gql: GraphQLClient, metric: str) -> None:
    program_id, _ = await build(gql)
    spend = {"a11": 50000, "b1": 20000, "a": 10000}
    for i, (name, amount) in enumerate(spend.items()):
        await paid(gql, program_id, name, f"o{i}", str(amount))
    await paid(gql, program_id, "a11", "refund-me", "7000")
    from tests.ledger import refund

    await refund(gql, program_id, "refund-me")
    expected = brute_force(TREE, spend)[metric]
    assert_board(await board(gql, program_id, metric), expected_board(expected))


async def test_first_limits_and_rank_numbers(gql: GraphQLClient) -> None:
    program_id, _ = await build(gql)
    data = await gql.data(LEADERBOARD, {"p": program_id, "m": "NETWORK_SIZE", "n": 2})
    entries = data["leaderboard"]
    assert [(e["rank"], e["customer"]["externalId"], e["score"]) for e in entries] == [
        (1, "r1", 6.0),
        (2, "a", 3.0),
    ]
    assert entries[0]["stale"] is False
    code = await gql.error_code(LEADERBOARD, {"p": program_id, "m": "INFLUENCE", "n": 101})
    assert code == "INVALID_INPUT"


async def test_ties_break_by_external_id(gql: GraphQLClient) -> None:
    program_id, _ = await build(gql)
    # DIRECT_REFERRALS: r1 and a both have 2; then a1, b, r2 with 1.
    assert [n for n, _ in await board(gql, program_id, "DIRECT_REFERRALS", 5)] == [
        "a",
        "r1",
        "a1",
        "b",
        "r2",
    ]


async def test_rejection_and_erasure_move_the_boards(gql: GraphQLClient) -> None:
    program_id, customers = await build(gql)
    found = await gql.data(
        'query($p: ID!) { customer(programId: $p, externalId: "a") { referral { id } } }',
        {"p": program_id},
    )
    review = {"referralId": found["customer"]["referral"]["id"], "decision": "REJECT"}
    assert (await gql.data(REVIEW, {"input": review}))["reviewReferral"]["userErrors"] == []
    erase = {"customerId": customers["b"]["id"]}
    assert (await gql.data(ERASE, {"input": erase}))["eraseCustomer"]["userErrors"] == []
    cut = dict(TREE, a=None)
    for metric in ["DIRECT_REFERRALS", "NETWORK_SIZE", "INFLUENCE", "PAGERANK"]:
        expected = expected_board(brute_force(cut, {})[metric], erased=frozenset({"b"}))
        assert_board(await board(gql, program_id, metric), expected)


async def test_leaderboard_needs_a_reader(gql: GraphQLClient) -> None:
    program_id, _ = await build(gql)
    assert (
        await gql.as_token(None).error_code(LEADERBOARD, {"p": program_id, "m": "PAGERANK", "n": 5})
        == "UNAUTHENTICATED"
    )
    payload = await register(gql, program_id, "late")
    assert payload["userErrors"] == []


def test_pagerank_converges_on_a_large_forest() -> None:
    """100,000 customers: every score within 1e-9 of a reference iterated to exhaustion."""
    rng = np.random.default_rng(7)
    n = 100_000
    parents = np.array(
        [-1 if i < 50 or rng.random() < 0.01 else rng.integers(0, i) for i in range(n)]
    )
    sources = np.flatnonzero(parents >= 0)
    targets = parents[sources]
    ours = pagerank(n, sources, targets)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(zip(sources.tolist(), targets.tolist(), strict=True))
    reference = nx.pagerank(graph, alpha=0.85, tol=1e-16, max_iter=100_000)
    expected = np.array([reference[i] for i in range(n)])
    assert np.max(np.abs(ours - expected)) < 1e-9
    top = set(np.argsort(-ours)[:100].tolist())
    assert top == set(np.argsort(-expected)[:100].tolist())


def test_pagerank_beyond_a_forest_matches_networkx() -> None:
    """A customer with two out-edges is no forest: power iteration takes over."""
    edges = [(0, 1), (0, 2), (1, 2), (3, 2), (4, 3), (5, 3)]
    sources = np.array([a for a, _ in edges])
    targets = np.array([b for _, b in edges])
    graph = nx.DiGraph(edges)
    graph.add_node(6)
    reference = nx.pagerank(graph, alpha=0.85, tol=1e-15, max_iter=10_000)
    ours = pagerank(7, sources, targets)
    assert np.max(np.abs(ours - np.array([reference[i] for i in range(7)]))) < 1e-9


async def test_a_cached_ranking_is_not_walked_by_the_collector(
    app: Any, gql: GraphQLClient
) -> None:
    program_id, _ = await build(gql)
    assert await board(gql, program_id, "NETWORK_SIZE")
    ranking = await app.state.runtime.rankings.ranking(ids.local_id(program_id, "Program"))
    gc.collect()
    # Every customer's externalId stays cached: a container the collector tracks would be
    # walked by each full collection, with the event loop stopped.
    assert len(ranking.external_ids) == len(TREE)
    assert not gc.is_tracked(ranking.external_ids)
