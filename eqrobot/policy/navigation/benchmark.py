"""``eqrobot bench nav``: the learned planners (eq, gnn) against Dijkstra on held-out maps.

For each planner and training-set size (100 and 1000 maps of 32 cells by default) one run is
trained (kept and reused when the folder already holds it) and scored by %Opt / %Succ on
test maps at the training size, at twice that size, and turned by random angles. Then the
time to plan on graphs of 1k / 5k / 20k nodes beside Dijkstra and A*, and the share of
plans the simulated robot follows to the goal without touching a wall. Writes nav.json,
nav.md and nav.png.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from eqrobot.io.atomic import atomic_write_json, atomic_write_text
from eqrobot.policy.navigation.data import TEST_SEED, Problem, graph_tensors, make_problems
from eqrobot.policy.navigation.evaluate import evaluate
from eqrobot.policy.navigation.graph import GraphConfig, build_graph, components
from eqrobot.policy.navigation.maps import generate
from eqrobot.policy.navigation.model import NavModelConfig, value_iteration
from eqrobot.policy.navigation.planners import astar, dijkstra_values, greedy_successors
from eqrobot.policy.navigation.train import NavTrainConfig, load_model, train


@dataclass
class NavBenchConfig:
    planners: tuple[str, ...] = ("eq", "gnn")
    train_maps: tuple[int, ...] = (100, 1000)
    size: int = 32
    steps: int = 3000
    test_maps: int = 48
    timing_nodes: tuple[int, ...] = (1000, 5000, 20000)
    timing_repeats: int = 5
    follow_plans: int = 20  # plans of the eq planner followed by the simulated robot (0: skip)


def run_benchmark(out_dir: str | Path, cfg: NavBenchConfig, machine: str) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    test_sets = {"size": make_problems(cfg.test_maps, cfg.size, TEST_SEED, desc="test maps"),
                 "2x size": make_problems(cfg.test_maps, 2 * cfg.size, TEST_SEED, desc="test maps, 2x")}
    rows = []
    for planner in cfg.planners:
        for maps in cfg.train_maps:
            weights = _trained(out / "runs" / f"{planner}-{maps}", planner, maps, cfg)
            model, _ = load_model(weights)
            rows.append({"planner": planner, "train_maps": maps, **_scores(model, test_sets)})
            print(_row_line(rows[-1]))
    rows.append({"planner": "dijkstra", "train_maps": None, **_scores(None, test_sets)})
    weights = out / "runs" / f"eq-{cfg.train_maps[0]}" / "navigation.safetensors"
    result = {"machine": machine, "config": asdict(cfg), "accuracy": rows,
              "timing": timing(load_model(weights)[0] if "eq" in cfg.planners else None, cfg),
              "follow": follow_rate(weights, cfg) if cfg.follow_plans and "eq" in cfg.planners else None}
    atomic_write_json(out / "nav.json", result)
    atomic_write_text(out / "nav.md", markdown(result))
    plot(result, out / "nav.png")
    return result


def _trained(run: Path, planner: str, maps: int, cfg: NavBenchConfig) -> Path:
    weights = run / "navigation.safetensors"
    if not weights.exists():
        train(run, NavTrainConfig(maps=maps, size=cfg.size, steps=cfg.steps), NavModelConfig(kind=planner))
    return weights


def _scores(model, test_sets: dict[str, list[Problem]]) -> dict:
    scores = {name: evaluate(model, problems, desc=name) for name, problems in test_sets.items()}
    scores["rotated"] = evaluate(model, test_sets["size"], rotated=True, seed=1, desc="rotated")
    return {name: {k: s[k] for k in ("pct_opt", "pct_succ", "starts")} for name, s in scores.items()}


def timing(model, cfg: NavBenchConfig) -> list[dict]:
    """Median seconds to plan (all values and the policy) on graphs of each size: the learned
    planner (encoder + value iteration to convergence), Dijkstra (scipy) and A* (one query)."""
    rows = [_timing_row(model, nodes, cfg) for nodes in cfg.timing_nodes]
    for row in rows:
        print(f"{row['nodes']} nodes: " + ", ".join(f"{k[:-2]} {1000 * v:.1f} ms" for k, v in row.items()
                                                     if k.endswith("_s")))
    return rows


def _timing_row(model, nodes: int, cfg: NavBenchConfig) -> dict:
    side = int(math.sqrt(nodes / GraphConfig().density / 0.7) / 0.1) + 2  # ~70 % of an obstacle map is free
    graph = build_graph(generate("obstacles", side, nodes), GraphConfig(nodes=nodes))
    label = components(graph)
    main = np.flatnonzero(label == np.bincount(label).argmax())
    goal, start = int(main[0]), int(main[-1])
    row = {"nodes": graph.num_nodes, "edges": int(len(graph.edges)),
           "dijkstra_s": _median_time(lambda: greedy_successors(graph, dijkstra_values(graph, goal)), cfg),
           "astar_s": _median_time(lambda: astar(graph, start, goal), cfg)}
    if model is not None:
        g = graph_tensors(graph)

        def learned():
            with torch.no_grad():
                costs = model.edge_costs(g)
                values = value_iteration(costs, g.edges, torch.tensor([goal]), g.num_nodes)
            greedy_successors(graph, values.double().numpy(), costs.double().numpy())

        row["eq_s"] = _median_time(learned, cfg)
    return row


def follow_rate(weights: Path, cfg: NavBenchConfig) -> dict:
    """Plans of the eq planner between random free points of test maps, followed by the
    simulated differential-drive robot: share reaching the goal without collision."""
    from eqrobot.policy.navigation.planner import Planner
    from eqrobot.sim.navigation import follow_plan

    planner = Planner("eq", weights)
    rng = np.random.default_rng(0)
    outcomes = []
    for i in range(cfg.follow_plans):
        m = generate(("obstacles", "maze", "rooms")[i % 3], cfg.size, TEST_SEED + 500 + i)
        graph = planner.set_map(m)
        label = components(graph)
        main = np.flatnonzero(label == np.bincount(label).argmax())
        a, b = rng.choice(main, 2, replace=False)
        plan = planner.plan(graph.positions[a], graph.positions[b])
        if not plan.reachable:
            continue
        result = follow_plan(m, plan.path)
        outcomes.append({"map": i, "reached": bool(result.reached), "collided": bool(result.collided),
                         "length_m": plan.length_m, "time_s": result.time_s})
    ok = [o["reached"] and not o["collided"] for o in outcomes]
    return {"plans": len(outcomes), "success_pct": 100.0 * float(np.mean(ok)) if ok else math.nan,
            "outcomes": outcomes}


def _median_time(fn, cfg: NavBenchConfig) -> float:
    fn()  # warm-up: first calls allocate
    times = []
    for _ in range(cfg.timing_repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _row_line(row: dict) -> str:
    return f"{row['planner']} ({row['train_maps']} maps): " + ", ".join(
        f"{name} {row[name]['pct_opt']:.1f} / {row[name]['pct_succ']:.1f}" for name in ("size", "2x size", "rotated"))


def markdown(result: dict) -> str:
    cfg = result["config"]
    size = cfg["size"]
    lines = [f"Machine: {result['machine']}", "",
             f"%Opt / %Succ over every start of {cfg['test_maps']} held-out maps x 4 goals (obstacles, mazes, "
             f"rooms; {size} cells = {size / 10:.1f} m a side), {cfg['steps']} training steps per run.", "",
             f"| planner | training maps | {size} cells | {2 * size} cells | {size} cells, rotated |",
             "|---|---|---|---|---|"]
    for row in result["accuracy"]:
        cells = " | ".join(f"{row[k]['pct_opt']:.1f} / {row[k]['pct_succ']:.1f}"
                           for k in ("size", "2x size", "rotated"))
        lines.append(f"| {row['planner']} | {row['train_maps'] or '-'} | {cells} |")
    lines += ["", "Planning time, median of repeats (all nodes' values and the policy; A*: one query):", "",
              "| nodes | edges | eq (ms) | Dijkstra (ms) | A* (ms) |", "|---|---|---|---|---|"]
    for row in result["timing"]:
        eq = f"{1000 * row['eq_s']:.1f}" if "eq_s" in row else "-"
        lines.append(f"| {row['nodes']} | {row['edges']} | {eq} | {1000 * row['dijkstra_s']:.1f} | "
                     f"{1000 * row['astar_s']:.1f} |")
    follow = result.get("follow")
    if follow:
        lines += ["", f"Simulated robot following eq plans: {follow['success_pct']:.1f} % reached the goal without "
                      f"collision ({follow['plans']} plans)."]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    settings = ("size", "2x size", "rotated")
    rows = [r for r in result["accuracy"] if r["planner"] != "dijkstra"]
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        a.bar(np.arange(3) + i * width, [row[s]["pct_opt"] for s in settings], width,
              label=f"{row['planner']}, {row['train_maps']} maps")
    a.set(xticks=np.arange(3) + width * (len(rows) - 1) / 2, xticklabels=settings, ylabel="%Opt", ylim=(0, 101),
          title="optimal paths on held-out maps")
    a.legend(fontsize=8)
    nodes = [r["nodes"] for r in result["timing"]]
    for key, label in (("eq_s", "eq (learned)"), ("dijkstra_s", "Dijkstra"), ("astar_s", "A* (one query)")):
        if all(key in r for r in result["timing"]):
            b.plot(nodes, [1000 * r[key] for r in result["timing"]], "o-", label=label)
    b.set(xscale="log", yscale="log", xlabel="graph nodes", ylabel="ms", title="planning time")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
