"""networkx's DiGraph with adjacency that rujuk stores and writes itself.

A dict per customer on each side of the adjacency cost a million-customer start-up over a
second and ~0.4 GB, so the referral tree hands networkx its own compact mappings
(graph/referral_graph.py: Referees, Referrers). networkx has no public way to adopt such
mappings: this assigns its private node table and adjacency, which its algorithms then read
through their ordinary views.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import networkx as nx


def adopted_digraph(
    nodes: MutableMapping[Any, Mapping[str, object]],
    successors: Mapping[Any, Mapping[Any, Mapping[str, object]]],
    predecessors: Mapping[Any, Mapping[Any, Mapping[str, object]]],
) -> nx.DiGraph:
    """A frozen DiGraph over these mappings, not copies: node -> attributes, and on each
    side node -> neighbour -> link attributes. Its add_* and remove_* raise before
    writing; the owner writes the mappings and then calls adjacency_changed."""
    graph = nx.DiGraph()
    # Assigned, not updated: networkx's descriptors keep _adj the same mapping as _succ
    # and reset the cached views.
    graph._node = nodes
    graph._succ = successors
    graph._pred = predecessors
    nx.freeze(graph)
    return graph


def node_table(graph: nx.DiGraph) -> MutableMapping[Any, Mapping[str, object]]:
    """The graph's own node -> attributes mapping (the one adopted_digraph was given)."""
    table: MutableMapping[Any, Mapping[str, object]] = graph._node
    return table


def successor_table(graph: nx.DiGraph) -> Any:
    """The graph's own successor mapping (the one adopted_digraph was given)."""
    return graph._succ


def adjacency_changed(graph: nx.DiGraph) -> None:
    """Drop what networkx cached from the graph (converted graphs of its dispatch backends)
    after its mappings were written in place."""
    nx._clear_cache(graph)
