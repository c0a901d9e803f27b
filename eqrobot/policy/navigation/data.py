"""Training and test problems: generated maps, their graphs, goals and Dijkstra's values.

Map ``i`` of a set is kind ``KINDS[i % 3]`` with seed ``first_seed + i``; training sets start
at seed 0 and test sets at ``TEST_SEED``, so the two never share a map.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from eqrobot.policy.navigation.graph import GeometricGraph, GraphConfig, build_graph, components
from eqrobot.policy.navigation.maps import KINDS, generate
from eqrobot.policy.navigation.model import GraphTensors
from eqrobot.policy.navigation.planners import dijkstra_values
from eqrobot.progress import progress

TEST_SEED = 1_000_000
VALIDATION_SEED = 2_000_000


@dataclass
class Problem:
    graph: GeometricGraph
    goal: int
    values: np.ndarray  # (N,) shortest distance to the goal, metres (inf: unreachable)
    kind: str
    seed: int


def make_problems(maps: int, size: int, first_seed: int = 0, goals: int = 4, graph: GraphConfig | None = None,
                  kinds: tuple[str, ...] = KINDS, desc: str = "maps") -> list[Problem]:
    """``goals`` problems on each of ``maps`` generated maps, the goals drawn in the largest
    connected part of each graph."""
    problems = []
    for i in progress(range(maps), desc=desc, unit="map", leave=False):
        seed = first_seed + i
        kind = kinds[i % len(kinds)]
        g = build_graph(generate(kind, size, seed), replace(graph or GraphConfig(), seed=seed))
        problems += problems_on(g, goals, np.random.default_rng(seed), kind, seed)
    return problems


def problems_on(graph: GeometricGraph, goals: int, rng: np.random.Generator, kind: str = "",
                seed: int = -1) -> list[Problem]:
    label = components(graph)
    main = np.flatnonzero(label == np.bincount(label).argmax())
    return [Problem(graph, int(goal), dijkstra_values(graph, int(goal)), kind, seed)
            for goal in rng.choice(main, size=min(goals, len(main)), replace=False)]


def graph_tensors(graph: GeometricGraph, device: str = "cpu") -> GraphTensors:
    scale = float(np.median(graph.lengths)) if len(graph.edges) else 1.0
    return GraphTensors(
        positions=torch.as_tensor(graph.positions, dtype=torch.float32, device=device),
        edges=torch.as_tensor(graph.edges, dtype=torch.long, device=device),
        clearance=torch.as_tensor(graph.clearance, dtype=torch.float32, device=device),
        scale=torch.full((graph.num_nodes,), scale, dtype=torch.float32, device=device),
    )


def batch(problems: list[Problem], device: str = "cpu") -> tuple[GraphTensors, torch.Tensor, torch.Tensor]:
    """Problems as one graph of disjoint parts: (graph, goal per part, target values)."""
    parts = [graph_tensors(p.graph, device) for p in problems]
    offsets = np.cumsum([0] + [p.num_nodes for p in parts[:-1]])
    g = GraphTensors(
        positions=torch.cat([p.positions for p in parts]),
        edges=torch.cat([p.edges + int(o) for p, o in zip(parts, offsets, strict=True)]),
        clearance=torch.cat([p.clearance for p in parts]),
        scale=torch.cat([p.scale for p in parts]),
    )
    goals = torch.as_tensor([p.goal + int(o) for p, o in zip(problems, offsets, strict=True)], device=device)
    values = torch.as_tensor(np.concatenate([p.values for p in problems]), dtype=torch.float32, device=device)
    return g, goals, values


