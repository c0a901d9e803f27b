"""The planner object: a map in, ``plan(start, goal)`` out, with any of the four planners.

Start and goal are metres in the map's frame. They join the graph through straight edges to
the nearest nodes they can see: edges that keep the robot's clearance once clear of the start
or goal (a robot may stand close to a wall) when there are any, else edges in free cells. A
bad start or goal raises
:class:`PlanningError` with the reason; a goal the graph cannot reach gives a plan with
``reachable`` false.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from eqrobot.geometry.types import OccupancyMap
from eqrobot.policy.navigation.evaluate import learned_policy
from eqrobot.policy.navigation.graph import GeometricGraph, GraphConfig, build_graph, segments_free
from eqrobot.policy.navigation.maps import free_space
from eqrobot.policy.navigation.model import KINDS
from eqrobot.policy.navigation.planners import astar, dijkstra_values, greedy_successors, path_length, path_nodes

PLANNERS = ("eq", "gnn", "dijkstra", "astar")
ENDPOINT_NEIGHBOURS = 12  # nearest graph nodes a start or goal tries to join


class PlanningError(ValueError):
    """A start or goal that cannot be planned from: outside the map, in an occupied or unknown cell."""


@dataclass
class Plan:
    path: np.ndarray  # (K, 2) metres from start to goal (empty when unreachable)
    length_m: float
    reachable: bool
    planner: str
    time_s: float
    reason: str = ""

    def to_json(self) -> dict:
        out = {"path": self.path.tolist(), "length_m": self.length_m if self.reachable else None,
               "reachable": self.reachable, "planner": self.planner, "time_s": self.time_s}
        if self.reason:
            out["reason"] = self.reason
        return out


def default_weights(kind: str) -> Path:
    from eqrobot.resources import share_file

    return share_file(f"models/navigation/mpvin-{kind}.safetensors")


class Planner:
    def __init__(self, planner: str = "eq", weights: str | Path | None = None, graph: GraphConfig | None = None,
                 device: str = "auto") -> None:
        if planner not in PLANNERS:
            raise ValueError(f"planner must be one of {', '.join(PLANNERS)}, got {planner!r}")
        self.name = planner
        self.model = None
        self.graph_config = graph
        if planner in KINDS:
            from eqrobot.device import resolve_device
            from eqrobot.policy.navigation.train import load_model

            self.device = resolve_device(device).device
            self.model, meta = load_model(weights or default_weights(planner), self.device)
            if meta["kind"] != planner:
                raise ValueError(f"{weights} holds a '{meta['kind']}' planner, not '{planner}'")
            # plan on graphs like those it was trained on unless told otherwise
            self.graph_config = graph or GraphConfig(**meta["graph"])
        self.graph_config = self.graph_config or GraphConfig()
        self.map: OccupancyMap | None = None
        self.graph: GeometricGraph | None = None

    def set_map(self, m: OccupancyMap) -> GeometricGraph:
        """Build the graph of ``m`` (kept until the next map)."""
        self.map, self.graph = m, build_graph(m, self.graph_config)
        self._free = free_space(m)
        self._roomy = free_space(m, self.graph_config.clearance)
        self._tree = cKDTree(self.graph.positions)
        return self.graph

    def plan(self, start, goal) -> Plan:
        if self.map is None:
            raise RuntimeError("no map yet: call set_map first")
        start, goal = (np.asarray(p, dtype=np.float64).reshape(2) for p in (start, goal))
        self.check_endpoint(start, "start")
        self.check_endpoint(goal, "goal")
        began = time.perf_counter()
        graph, s, g, cut_off = self._joined(start, goal)
        nodes = self._nodes(graph, s, g)
        seconds = time.perf_counter() - began
        if not nodes or nodes[-1] != g:
            why = (f"no straight line from the {' or the '.join(cut_off)} to a graph node stays in free space"
                   if cut_off else "the goal cannot be reached from the start")
            return Plan(np.zeros((0, 2)), math.inf, False, self.name, seconds, why)
        return Plan(graph.positions[nodes], path_length(graph, nodes), True, self.name, seconds)

    def check_endpoint(self, xy: np.ndarray, name: str) -> None:
        if not np.all(np.isfinite(xy)):
            raise PlanningError(f"{name} {xy.tolist()} is not a finite point")
        rows, cols = self.map.world_to_cell(xy[None])
        where = f"{name} ({xy[0]:.2f}, {xy[1]:.2f}) m"
        if not self.map.contains_cell(rows, cols)[0]:
            raise PlanningError(f"{where} is outside the map")
        value = int(self.map.data[rows[0], cols[0]])
        if value < 0:
            raise PlanningError(f"{where} is in an unknown cell")
        if value >= 50:
            raise PlanningError(f"{where} is in an occupied cell (occupancy {value})")

    def _joined(self, start: np.ndarray, goal: np.ndarray) -> tuple[GeometricGraph, int, int, list[str]]:
        """The map's graph with the start and the goal as two more nodes, and which of the two
        see no graph node."""
        base = self.graph
        n = base.num_nodes
        new_edges = [base.edges]
        cut_off = []
        legs = self._leg_mask(start, goal)
        for index, point, name in ((n, start, "start"), (n + 1, goal, "goal")):
            visible = self._visible_nodes(point, legs)
            pairs = np.stack([np.full(len(visible), index), visible], axis=1)
            new_edges += [pairs, pairs[:, ::-1]]
            if not len(visible):
                cut_off.append(name)
        if np.linalg.norm(goal - start) < 1e-9 or segments_free(self.map, legs, start[None], goal[None])[0]:
            new_edges.append(np.array([[n, n + 1], [n + 1, n]]))
        positions = np.concatenate([base.positions, start[None], goal[None]])
        clearance = np.concatenate([base.clearance, [0.0, 0.0]])
        return GeometricGraph(positions, np.concatenate(new_edges), clearance, base.frame_id), n, n + 1, cut_off

    def _visible_nodes(self, point: np.ndarray, legs: np.ndarray) -> np.ndarray:
        """The nearest graph nodes ``point`` joins: by legs in ``legs`` (``_leg_mask``) when
        there are any, else by legs in free cells."""
        k = min(ENDPOINT_NEIGHBOURS, self.graph.num_nodes)
        near = np.atleast_1d(self._tree.query(point, k=k)[1])
        ends = np.repeat(point[None], k, 0), self.graph.positions[near]
        for mask in (legs, self._free):
            visible = near[segments_free(self.map, mask, *ends)]
            if len(visible):
                return visible
        return visible

    def _leg_mask(self, *points: np.ndarray) -> np.ndarray:
        """Cells with the robot's clearance, plus the free cells within that clearance of
        ``points``: a robot may stand close to a wall, but moves away from it."""
        mask = self._roomy.copy()
        reach = self.graph_config.clearance + self.map.resolution
        span = int(np.ceil(reach / self.map.resolution)) + 1
        for point in points:
            rows, cols = (index[0] for index in self.map.world_to_cell(point[None]))
            rows, cols = np.mgrid[max(rows - span, 0):min(rows + span + 1, mask.shape[0]),
                                  max(cols - span, 0):min(cols + span + 1, mask.shape[1])]
            centres = self.map.cell_to_world(rows.ravel(), cols.ravel()).reshape(*rows.shape, 2)
            near = np.linalg.norm(centres - point, axis=-1) <= reach
            mask[rows[near], cols[near]] |= self._free[rows[near], cols[near]]
        return mask

    def _nodes(self, graph: GeometricGraph, start: int, goal: int) -> list[int]:
        if self.name == "astar":
            return astar(graph, start, goal)
        if self.name == "dijkstra":
            successor = greedy_successors(graph, dijkstra_values(graph, goal))
        else:
            successor = learned_policy(self.model, graph, goal, self.device)
        return path_nodes(successor, start, goal, graph.num_nodes)
