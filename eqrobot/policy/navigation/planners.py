"""Reference planners on a geometric graph (Dijkstra, A*) and what every planner shares:
values to a goal, following a policy from a start, path lengths measured in metres.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy.sparse import csgraph

from eqrobot.policy.navigation.graph import GeometricGraph


def dijkstra_values(graph: GeometricGraph, goal: int, costs: np.ndarray | None = None) -> np.ndarray:
    """Cost to reach ``goal`` from every node (inf where it cannot), moving along edges that cost
    ``costs`` (their lengths by default)."""
    # a path i -> goal in the graph is a path goal -> i in the reversed graph
    return csgraph.dijkstra(graph.adjacency(costs).T.tocsr(), directed=True, indices=goal)


def astar(graph: GeometricGraph, start: int, goal: int) -> list[int]:
    """Nodes of a shortest path start -> goal (straight-line distance as the heuristic);
    empty when the goal cannot be reached."""
    adjacency = graph.adjacency()
    indptr, indices, weights = adjacency.indptr, adjacency.indices, adjacency.data
    target = graph.positions[goal]
    heuristic = np.linalg.norm(graph.positions - target, axis=1)
    best = np.full(graph.num_nodes, np.inf)
    parent = np.full(graph.num_nodes, -1)
    best[start] = 0.0
    frontier = [(heuristic[start], start)]
    closed = np.zeros(graph.num_nodes, dtype=bool)
    while frontier:
        _, node = heapq.heappop(frontier)
        if node == goal:
            return _unwind(parent, goal)
        if closed[node]:
            continue
        closed[node] = True
        for k in range(indptr[node], indptr[node + 1]):
            nxt, cost = indices[k], best[node] + weights[k]
            if cost < best[nxt]:
                best[nxt], parent[nxt] = cost, node
                heapq.heappush(frontier, (cost + heuristic[nxt], nxt))
    return []


def greedy_successors(graph: GeometricGraph, values: np.ndarray, costs: np.ndarray | None = None) -> np.ndarray:
    """For each node, the neighbour minimising edge cost + value (-1 where no neighbour has a
    finite value): the policy that a value function defines."""
    costs = graph.lengths if costs is None else np.asarray(costs, dtype=np.float64)
    q = costs + values[graph.edges[:, 1]]
    order = np.lexsort((q, graph.edges[:, 0]))  # by source node, then by q
    src = graph.edges[order, 0]
    first = np.ones(len(order), dtype=bool)
    first[1:] = src[1:] != src[:-1]
    successor = np.full(graph.num_nodes, -1)
    best = order[first]
    finite = np.isfinite(q[best])
    successor[graph.edges[best[finite], 0]] = graph.edges[best[finite], 1]
    return successor


def follow(graph: GeometricGraph, successor: np.ndarray, goal: int, starts: np.ndarray,
           max_length: np.ndarray | float = np.inf, max_hops: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Walk the policy ``successor`` from every start at once; returns (reached, length in
    metres). A walk stops at the goal, at a node without successor, after ``max_hops`` hops (the
    node count by default: longer walks loop) or once longer than ``max_length``."""
    starts = np.asarray(starts, dtype=np.int64)
    at = starts.copy()
    length = np.zeros(len(starts))
    max_hops = max_hops or graph.num_nodes
    active = at != goal
    for _ in range(max_hops):
        if not active.any():
            break
        nxt = successor[at[active]]
        stuck = nxt < 0
        step = np.linalg.norm(graph.positions[np.where(stuck, at[active], nxt)] - graph.positions[at[active]], axis=1)
        length[active] += step
        idx = np.flatnonzero(active)
        at[idx[~stuck]] = nxt[~stuck]
        active[idx[stuck]] = False
        active &= (at != goal) & (length <= max_length)
    return at == goal, length


def path_nodes(successor: np.ndarray, start: int, goal: int, max_hops: int) -> list[int]:
    """The nodes the policy visits from ``start`` (ends at the goal when it gets there)."""
    nodes = [start]
    while nodes[-1] != goal and len(nodes) <= max_hops and successor[nodes[-1]] >= 0:
        nodes.append(int(successor[nodes[-1]]))
    return nodes


def path_length(graph: GeometricGraph, nodes: list[int]) -> float:
    return float(np.linalg.norm(np.diff(graph.positions[nodes], axis=0), axis=1).sum()) if len(nodes) > 1 else 0.0


def _unwind(parent: np.ndarray, goal: int) -> list[int]:
    nodes = [goal]
    while parent[nodes[-1]] >= 0:
        nodes.append(int(parent[nodes[-1]]))
    return nodes[::-1]
