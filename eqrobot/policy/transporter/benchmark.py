"""The pick-and-place benchmark (Ravens protocol, ../shared/BENCHMARKS.md): for each task,
demonstrations from the oracle on train seeds, both agents trained on 1, 10, ... of them,
success over test seeds, beside the published Transporter and Equivariant Transporter
numbers; plus inference latency per action and the oracle's episode throughput.

Every run keeps its folder (``runs/<task>-<agent>-<demos>[-run<r>]``: weights, history,
``eval.json``), so an interrupted benchmark picks up where it stopped; a run that fails is
recorded with its error and the others go on. With several training runs per cell (Ravens'
``n_runs``) the table shows their mean and spread: few-demo cells vary from run to run with the
demonstration drawn and the training seed.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eqrobot.io.atomic import atomic_write_json, atomic_write_text
from eqrobot.policy.transporter.agent import ANGLES_PER_BIN, TransporterAgent
from eqrobot.policy.transporter.model import TransporterConfig

# Success % at 1 / 10 / 100 demonstrations: Transporter (Zeng et al. 2020) and Equivariant
# Transporter (Huang et al., RSS 2022), as listed in ../shared/BENCHMARKS.md.
PUBLISHED = {
    "block-insertion": {"base": (100, 100, 100), "eq": (100, 100, 100)},
    "place-red-in-green": {"base": (84.5, 100, 100), "eq": (98.5, 100, 100)},
    "towers-of-hanoi": {"base": (73.1, 83.9, 97.3), "eq": (88.1, 95.7, 100)},
    "align-box-corner": {"base": (35.0, 85.0, 97.0), "eq": (41.0, 99.0, 100)},
    "stack-block-pyramid": {"base": (13.3, 42.6, 56.2), "eq": (34.6, 80.0, 90.8)},
    "palletizing-boxes": {"base": (63.2, 77.4, 91.7), "eq": (75.3, 98.9, 99.6)},
    "assembling-kits": {"base": (28.4, 78.6, 90.4), "eq": (63.8, 90.6, 98.6)},
    "packing-boxes": {"base": (56.8, 58.3, 72.1), "eq": (98.3, 99.4, 99.6)},
}
PUBLISHED_DEMOS = (1, 10, 100)
AGENT_NAMES = {"eq": "Equivariant Transporter", "base": "Transporter"}


@dataclass
class BenchConfig:
    tasks: tuple[str, ...] = ("block-insertion", "place-red-in-green", "stack-block-pyramid")
    demos: tuple[int, ...] = (1, 10)
    agents: tuple[str, ...] = ("eq", "base")
    steps: int = 1000  # training steps per run
    episodes: int = 100  # test episodes per run
    seed: int = 0
    latency_repeats: int = 20
    finished_only: bool = False  # only tabulate runs already evaluated (no training)
    oracle_episodes: int = 20  # the oracle's success (ceiling) and speed, first test episodes
    runs: int = 1  # training runs per cell; the table shows their mean
    demo_pool: int = 10  # runs after the first draw their demonstrations from this many


def run_name(task: str, agent: str, demos: int, run: int = 0) -> str:
    return f"{task}-{agent}-{demos}" + (f"-run{run}" if run else "")


def demos_of_run(run: int, demos: int, pool: int) -> tuple[int, ...] | None:
    """The demonstrations (indices) training run ``run`` learns from: run 0 the first ``demos``
    (None), as a single-run table always did; a later run ``demos`` of the first ``pool`` drawn
    with seed ``run``, as Ravens' train.py draws each run's demonstrations from its set."""
    if run == 0 or demos >= pool:
        return None
    return tuple(sorted(int(i) for i in np.random.default_rng(run).choice(pool, demos, replace=False)))


def published(task: str, agent: str, demos: int) -> float | None:
    if task not in PUBLISHED or demos not in PUBLISHED_DEMOS:
        return None
    return PUBLISHED[task][agent][PUBLISHED_DEMOS.index(demos)]


def run_one(root: Path, task: str, agent: str, demos: int, cfg: BenchConfig, run: int = 0) -> dict:
    """Train (or resume) one agent on ``demos`` demonstrations (``demos_of_run``), with seed
    ``cfg.seed + run``, and evaluate it."""
    from eqrobot.policy.transporter.evaluate import evaluate
    from eqrobot.policy.transporter.train import TrainConfig, train
    from eqrobot.sim.tasks.ravens_score import VERSION as RAVENS_SCORE_VERSION

    folder = root / "runs" / run_name(task, agent, demos, run)
    result_path = folder / "eval.json"
    previous = json.loads(result_path.read_text()) if result_path.is_file() else None
    weights = folder / "transporter.safetensors"
    if previous is not None and not weights.is_file():
        return previous
    start = time.perf_counter()
    chosen = demos_of_run(run, demos, cfg.demo_pool)
    if not weights.is_file():
        train(root / "data" / task, folder,
              TrainConfig(steps=cfg.steps, seed=cfg.seed + run, demos=demos, episodes=chosen),
              TransporterConfig(agent=agent), task=task)
    steps, train_s = (previous["steps"], previous["train_s"]) if previous else (cfg.steps, time.perf_counter() - start)
    trained = TransporterAgent.load(weights, device="cpu")
    # A result evaluated with other place angles or an earlier Ravens score is stale: the weights
    # are evaluated again.
    if (previous is not None and previous.get("place_turns") == len(trained.angles)
            and previous.get("ravens_score_version", 1) == RAVENS_SCORE_VERSION):
        return previous
    result = {"task": task, "agent": agent, "demos": demos, "run": run,
              "demo_episodes": list(chosen or range(demos)), "steps": steps, "train_s": train_s,
              "place_turns": len(trained.angles), **evaluate(trained, task, cfg.episodes)}
    atomic_write_json(result_path, result)
    return result


def measure_latency(agents: tuple[str, ...], repeats: int, obs: dict | None = None) -> dict:
    """Median seconds per ``act`` (pick and place) on ``obs`` (by default a block-insertion
    heightmap rendered here), per agent and device, with untrained weights (the cost does not
    depend on them)."""
    import torch

    from eqrobot.device import resolve_device
    from eqrobot.policy.transporter.model import Transporter

    obs = obs if obs is not None else _block_insertion_observation()
    # on a GPU also without CUDA graphs, to show what replaying them saves
    variants = [("cpu", "cpu", True)] + ([("cuda", "cuda", True), ("cuda, no graphs", "cuda", False)]
                                         if resolve_device("auto").device.startswith("cuda") else [])
    out = {}
    for agent in agents:
        for label, device, graphs in variants:
            policy = TransporterAgent(Transporter(TransporterConfig(agent=agent)), device=device, cuda_graphs=graphs)
            policy.act(obs)  # warm-up: escnn filter expansion, allocator, CUDA kernels
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                policy.act(obs)
                if device == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
            out[f"{agent} ({label})"] = float(np.median(times))
    return out


def _block_insertion_observation() -> dict:
    import gymnasium

    from eqrobot.sim import ENV_IDS

    env = gymnasium.make(ENV_IDS["block-insertion"])
    obs, _ = env.reset(seed=1)
    env.close()
    return obs


def oracle_runs(task: str, episodes: int) -> tuple[float, float]:
    """The scripted oracle on the first ``episodes`` test episodes: its success (what the arm
    and the simulator allow, the ceiling for a learned agent) and episodes per second
    (simulation, cameras and heightmaps; the throughput target is on block-insertion)."""
    import gymnasium

    from eqrobot.sim import ENV_IDS
    from eqrobot.sim.demos import run_oracle

    env = gymnasium.make(ENV_IDS[task])
    try:
        start = time.perf_counter()
        solved = [run_oracle(env, seed)[1] > 0.99 for seed in range(1, 2 * episodes, 2)]
        return float(np.mean(solved)), episodes / (time.perf_counter() - start)
    finally:
        env.close()


def run_benchmark(out_dir, cfg: BenchConfig | None = None, machine: str = "") -> dict:
    """The whole table; writes ``transporter.json``, ``transporter.md`` and ``transporter.png``."""
    from eqrobot.progress import progress
    from eqrobot.sim.demos import collect

    cfg = cfg or BenchConfig()
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine, "config": asdict(cfg), "runs": []}
    pool = max(*cfg.demos, cfg.demo_pool if cfg.runs > 1 else 0)
    for task in () if cfg.finished_only else cfg.tasks:
        collect(task, pool, root / "data" / task, "train")
    jobs = [(t, a, n, r) for t in cfg.tasks for n in cfg.demos for a in cfg.agents for r in range(cfg.runs)]
    for task, agent, demos, run in progress(jobs, desc="transporter benchmark", unit="run"):
        result_path = root / "runs" / run_name(task, agent, demos, run) / "eval.json"
        if cfg.finished_only:
            if result_path.is_file():  # as evaluated, even with other place angles: nothing is computed
                report["runs"].append(json.loads(result_path.read_text()))
            continue
        try:
            report["runs"].append(run_one(root, task, agent, demos, cfg, run))
        except Exception as e:  # noqa: BLE001 - one failed run is recorded, the table goes on
            report["runs"].append({"task": task, "agent": agent, "demos": demos, "run": run,
                                   "error": f"{type(e).__name__}: {e}"})
    oracle = {task: oracle_runs(task, cfg.oracle_episodes) for task in cfg.tasks}
    report["oracle_success"] = {task: rate for task, (rate, _) in oracle.items()}
    report["oracle_episodes_per_s"] = {task: speed for task, (_, speed) in oracle.items()}
    report["latency_s"] = measure_latency(cfg.agents, cfg.latency_repeats)
    report = with_earlier_tasks(report, root / "transporter.json")
    atomic_write_json(root / "transporter.json", report)
    atomic_write_text(root / "transporter.md", markdown_table(report))
    plot_report(report, root / "transporter.png")
    return report


def with_earlier_tasks(report: dict, earlier_path: Path) -> dict:
    """``report`` with the tasks that the earlier report at ``earlier_path`` (the same folder) has
    and it has not: their runs and oracle figures, as measured then. So benchmarking some tasks
    keeps the other tasks' rows of the table. An unreadable earlier report is left out."""
    try:
        earlier = json.loads(Path(earlier_path).read_text())
        extra = [t for t in earlier["config"]["tasks"] if t not in report["config"]["tasks"]]
        runs = [r for r in earlier["runs"] if r["task"] in extra]
        oracle = {key: {t: earlier[key][t] for t in extra if t in earlier.get(key, {})}
                  for key in ("oracle_success", "oracle_episodes_per_s")}
    except (OSError, ValueError, KeyError, TypeError):
        return report
    if not extra:
        return report
    merged = {**report, "config": {**report["config"], "tasks": [*extra, *report["config"]["tasks"]]},
              "runs": runs + report["runs"]}
    for key, values in oracle.items():
        merged[key] = {**values, **report.get(key, {})}
    return merged


def markdown_table(report: dict) -> str:
    cfg = report["config"]
    lines = [f"Machine: {report['machine']}", "",
             f"Score over {cfg['episodes']} test episodes (odd seeds), {cfg['steps']} training steps per run: "
             "the mean episode reward x 100, partial credit included, which is what Ravens and the papers "
             "report as task success, kept as Ravens keeps it (its x-y-yaw pose test, goal steps such as a "
             "pyramid's rows kept once finished, an episode over at reward 1; packing-boxes by the share of the "
             "boxes inside the container) (published numbers in brackets); 'solved': % of episodes completed "
             "by our own test (also height). A cell of several training runs ('3 runs': run r > 0 drew "
             "its demonstrations at random with seed r and trained with seed r) shows their mean ± std. "
             f"Oracle: the scripted expert's solved % on the first {cfg['oracle_episodes']} of those episodes.", "",
             "| task | demos | " + " | ".join(AGENT_NAMES[a] for a in cfg["agents"]) + " | oracle |",
             "|---|---|" + "---|" * (len(cfg["agents"]) + 1)]
    runs = runs_per_cell(report["runs"])
    for task in cfg["tasks"]:
        for demos in cfg["demos"]:
            cells = [_cell(runs.get((task, agent, demos), []), published(task, agent, demos), cfg["episodes"],
                           cfg["steps"]) for agent in cfg["agents"]]
            oracle = report.get("oracle_success", {}).get(task)
            cells.append("-" if oracle is None else f"{100 * oracle:.0f}")
            lines.append(f"| {task} | {demos} | " + " | ".join(cells) + " |")
    lines += ["", "Inference per action (pick and place, median):", ""]
    lines += [f"- {name}: {1000 * s:.0f} ms" for name, s in report["latency_s"].items()]
    lines += ["", f"Oracle (scripted expert) over the first {cfg['oracle_episodes']} test episodes, "
              "episodes per second (simulation, cameras, heightmaps):", ""]
    lines += [f"- {task}: {speed:.2f}" for task, speed in report["oracle_episodes_per_s"].items()]
    return "\n".join(lines) + "\n"


def runs_per_cell(runs: list[dict]) -> dict[tuple[str, str, int], list[dict]]:
    """The runs of each (task, agent, demos) cell, in run order."""
    cells: dict[tuple[str, str, int], list[dict]] = {}
    for r in sorted(runs, key=lambda r: r.get("run", 0)):
        cells.setdefault((r["task"], r["agent"], r["demos"]), []).append(r)
    return cells


def _cell(runs: list[dict], paper: float | None, episodes: int, steps: int) -> str:
    ref = f" [{paper:g}]" if paper is not None else ""
    done = [r for r in runs if "error" not in r]
    if not runs:
        return "-" + ref
    if not done:
        return "failed" + ref
    run = done[0]
    # a run kept from an earlier benchmark with another budget or other place angles says so
    notes = [f"{len(done)} runs"] if len(done) > 1 else []
    if len(done) < len(runs):
        notes.append(f"{len(runs) - len(done)} failed")
    if run["episodes"] != episodes:
        notes.append(f"{run['episodes']} episodes")
    if run.get("steps", steps) != steps:
        notes.append(f"{run['steps']} steps")
    turns = run.get("place_turns", TransporterConfig().rotations)  # recorded since acting tries more than the bins
    if turns != ANGLES_PER_BIN * TransporterConfig().rotations:
        notes.append(f"{turns} place angles")
    budget = f" ({', '.join(notes)})" if notes else ""
    scores = [score(r) for r in done]
    spread = f" ± {np.std(scores):.0f}" if len(done) > 1 else ""
    solved = 100 * np.mean([r["success_rate"] for r in done])
    return f"{np.mean(scores):.0f}{spread}{ref} · {solved:.0f} solved{budget}"


def score(run: dict) -> float:
    """Ravens' 'task success' of a run: the mean episode reward x 100 (partial credit included;
    Ravens' test.py sums each episode's rewards, its plot.py averages the sums), the reward as
    Ravens keeps it (``eqrobot.sim.tasks.ravens_score``; runs evaluated before it was recorded: their own)."""
    return 100 * run.get("ravens_reward", run["mean_reward"])


def plot_report(report: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = report["config"]
    runs = runs_per_cell([r for r in report["runs"] if "error" not in r])
    columns = [(t, n) for t in cfg["tasks"] for n in cfg["demos"]]
    bars = [(a, src) for a in cfg["agents"] for src in ("ours", "published")]
    width = 0.8 / len(bars)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(columns)), 4.2))
    for i, (agent, src) in enumerate(bars):
        spread = None
        if src == "ours":
            scores = [[score(r) for r in runs.get((t, agent, n), [])] for t, n in columns]
            values = [np.mean(s) if s else np.nan for s in scores]
            spread = [np.std(s) if len(s) > 1 else 0.0 for s in scores]
        else:
            values = [published(t, agent, n) or np.nan for t, n in columns]
        ax.bar(np.arange(len(columns)) + i * width, values, width, yerr=spread, capsize=2,
               label=f"{AGENT_NAMES[agent]} ({src})", alpha=1.0 if src == "ours" else 0.45)
    ax.set_xticks(np.arange(len(columns)) + 0.4 - width / 2)
    ax.set_xticklabels([f"{t}\n{n} demo{'s' if n > 1 else ''}" for t, n in columns], fontsize=7)
    ax.set(ylabel="score (mean episode reward, %)", ylim=(0, 105), title="pick and place, test episodes")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
