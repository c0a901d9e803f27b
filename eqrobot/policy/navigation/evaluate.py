"""%Opt and %Succ of a planner over problems (../shared/BENCHMARKS.md): every node that can
reach the goal is a start; the planner's policy is walked from all of them at once.

- a start counts as *optimal* when the walk reaches the goal with a length within
  ``OPT_TOLERANCE`` (relative) of Dijkstra's, and as a *success* when it reaches the goal
  within twice Dijkstra's length (the rollout cap).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import numpy as np
import torch

from eqrobot.policy.navigation.data import Problem, graph_tensors
from eqrobot.policy.navigation.graph import GeometricGraph
from eqrobot.policy.navigation.model import BIG, MPVIN
from eqrobot.policy.navigation.planners import follow, greedy_successors
from eqrobot.progress import progress

OPT_TOLERANCE = 1e-3  # relative: paths on a geometric graph differ by real numbers, not whole steps


def learned_policy(model: MPVIN, graph: GeometricGraph, goal: int, device: str = "cpu") -> np.ndarray:
    """Each node's successor under the model's values and edge costs."""
    g = graph_tensors(graph, device)
    with torch.no_grad():
        values, costs = model(g, torch.tensor([goal], device=device))
    values = values.double().cpu().numpy()
    values[values >= BIG / 2] = np.inf
    return greedy_successors(graph, values, costs.double().cpu().numpy())


def exact_policy(graph: GeometricGraph, problem: Problem) -> np.ndarray:
    return greedy_successors(graph, problem.values)


def score(graph: GeometricGraph, problem: Problem, successor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(optimal, success) per start: every node with a finite value but the goal."""
    starts = np.flatnonzero(np.isfinite(problem.values) & (np.arange(graph.num_nodes) != problem.goal))
    best = problem.values[starts]
    reached, length = follow(graph, successor, problem.goal, starts, max_length=2 * best + 1e-9)
    optimal = reached & (length <= best * (1 + OPT_TOLERANCE) + 1e-9)
    success = reached & (length <= 2 * best + 1e-9)
    return optimal, success


def evaluate(model: MPVIN | None, problems: list[Problem], rotated: bool = False, seed: int = 0,
             device: str = "cpu", desc: str = "evaluating") -> dict:
    """%Opt / %Succ of ``model`` (Dijkstra's own policy when None) on ``problems``; with
    ``rotated``, each graph is first turned by a random angle about its centre (and shifted)."""
    rng = np.random.default_rng(seed)
    totals: dict[str, list[np.ndarray]] = defaultdict(list)
    seconds = []
    for problem in progress(problems, desc=desc, unit="problem", leave=False):
        graph = _turned(problem.graph, rng) if rotated else problem.graph
        start = time.perf_counter()
        successor = (exact_policy(graph, problem) if model is None
                     else learned_policy(model, graph, problem.goal, device))
        seconds.append(time.perf_counter() - start)
        optimal, success = score(graph, problem, successor)
        for key in ("all", problem.kind):
            totals[f"{key}/opt"].append(optimal)
            totals[f"{key}/succ"].append(success)
    result = _percentages(totals["all/opt"], totals["all/succ"])
    kinds = sorted({k.split("/")[0] for k in totals} - {"all"})
    result["per_kind"] = {k: _percentages(totals[f"{k}/opt"], totals[f"{k}/succ"]) for k in kinds}
    result.update({"problems": len(problems), "maps": len({(p.kind, p.seed) for p in problems}),
                   "rotated": rotated, "plan_s_median": float(np.median(seconds)) if seconds else math.nan})
    return result


def _percentages(optimal: list[np.ndarray], success: list[np.ndarray]) -> dict:
    opt, succ = (np.concatenate(x) if x else np.zeros(0, bool) for x in (optimal, success))
    return {"pct_opt": 100.0 * float(opt.mean()) if len(opt) else math.nan,
            "pct_succ": 100.0 * float(succ.mean()) if len(succ) else math.nan, "starts": int(len(opt))}


def _turned(graph: GeometricGraph, rng: np.random.Generator) -> GeometricGraph:
    angle = rng.uniform(0, 2 * math.pi)
    c, s = math.cos(angle), math.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    centre = graph.positions.mean(axis=0)
    return graph.transformed(rotation, centre - rotation @ centre + rng.uniform(-5, 5, size=2))
