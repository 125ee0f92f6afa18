"""What rujuk.compat.networkx assumes of networkx's DiGraph internals."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pytest

from rujuk.compat.networkx import adjacency_changed, adopted_digraph, node_table, successor_table

NONE: dict[str, object] = {}


def tree() -> tuple[Any, dict[int, Any], dict[int, Any], dict[int, Any]]:
    """1 -> 2 -> 3 over plain dicts."""
    nodes: dict[int, Any] = {1: NONE, 2: NONE, 3: NONE}
    succ: dict[int, Any] = {1: {2: NONE}, 2: {3: NONE}, 3: {}}
    pred: dict[int, Any] = {1: {}, 2: {1: NONE}, 3: {2: NONE}}
    return adopted_digraph(nodes, succ, pred), nodes, succ, pred


def test_networkx_reads_the_adopted_mappings_themselves() -> None:
    graph, nodes, succ, _ = tree()
    assert node_table(graph) is nodes
    assert successor_table(graph) is succ
    # The descriptor behind _succ keeps _adj the same mapping (what DiGraph.successors reads).
    assert graph._adj is succ
    assert list(graph.successors(1)) == [2]
    assert list(graph.predecessors(3)) == [2]
    assert nx.descendants(graph, 1) == {2, 3}
    assert nx.ancestors(graph, 3) == {1, 2}
    assert graph.number_of_nodes() == 3
    assert graph.number_of_edges() == 2


def test_the_graph_is_frozen_for_networkx_writes() -> None:
    graph, _, _, _ = tree()
    assert nx.is_frozen(graph)
    with pytest.raises(nx.NetworkXError):
        graph.add_edge(3, 4)


def test_writes_in_place_show_through_after_adjacency_changed() -> None:
    graph, nodes, succ, pred = tree()
    graph.__networkx_cache__["converted"] = object()
    nodes[4] = NONE
    succ[3][4] = NONE
    succ[4] = {}
    pred[4] = {3: NONE}
    adjacency_changed(graph)
    assert graph.__networkx_cache__ == {}
    assert 4 in graph
    assert list(graph.successors(3)) == [4]
    assert nx.descendants(graph, 1) == {2, 3, 4}
