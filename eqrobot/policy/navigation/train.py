"""Training a learned planner from Dijkstra's values on generated maps.

Each step takes a batch of (map, goal) problems, runs the network's value iteration to
convergence and lowers the relative errors of its values against Dijkstra's and of its edge
costs against the edge lengths Dijkstra adds up. Checkpoints are atomic and a run resumes from ``last.safetensors``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from eqrobot.io.atomic import atomic_write_json
from eqrobot.io.checkpoint import load_trained, optimizer_tensors, resume_into, save_checkpoint
from eqrobot.plots import plot_losses
from eqrobot.policy.navigation.data import VALIDATION_SEED, batch, make_problems
from eqrobot.policy.navigation.evaluate import evaluate
from eqrobot.policy.navigation.graph import GraphConfig
from eqrobot.policy.navigation.model import MPVIN, GraphTensors, NavModelConfig
from eqrobot.progress import progress

CHECKPOINT_KIND = "navigation"


@dataclass
class NavTrainConfig:
    maps: int = 100  # training maps (each with ``goals`` goals)
    size: int = 32  # cells a side (0.1 m cells)
    goals: int = 4
    steps: int = 1500
    batch: int = 8  # problems per step
    lr: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 100
    validate_every: int = 250  # steps between validations (0: none)
    val_maps: int = 12
    graph: dict = field(default_factory=lambda: GraphConfig().to_dict())

    def __post_init__(self) -> None:
        if self.maps < 1 or self.size < 16 or self.steps < 1 or self.batch < 1:
            raise ValueError("maps and steps must be positive, size at least 16 cells and batch at least 1")


def losses(model: MPVIN, g: GraphTensors, goals: torch.Tensor,
           target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(value loss, cost loss): relative errors of the values against Dijkstra's (``target``,
    inf where unreachable) and of the edge costs against the lengths Dijkstra adds up."""
    values, costs = model(g, goals)
    reachable = torch.isfinite(target)
    value_loss = ((values - target).abs() / (target + g.scale))[reachable].mean()
    # value iteration sends gradient only along each node's chosen edge; an edge too cheap off
    # the best path is a shortcut the policy takes, so every edge's cost is taught as well.
    # (A soft-min cross-entropy on Dijkstra's next node was tried as a third term: it widens the
    # margins between neighbours by distorting costs and lowered %Opt from ~96 to ~88.)
    length = (g.positions[g.edges[:, 1]] - g.positions[g.edges[:, 0]]).norm(dim=1)
    cost_loss = torch.log(costs / length).abs().mean()
    return value_loss, cost_loss


def train(out_dir: str | Path, cfg: NavTrainConfig | None = None, model_cfg: NavModelConfig | None = None) -> Path:
    """Train on ``cfg.maps`` generated maps; write ``out_dir/navigation.safetensors`` (final
    weights), ``last.safetensors`` (resumable), ``history.json`` and ``training.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = cfg or NavTrainConfig()
    model_cfg = model_cfg or NavModelConfig()
    graph_cfg = GraphConfig(**cfg.graph)
    torch.manual_seed(cfg.seed)
    model = MPVIN(model_cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history = {"step": [], "value_loss": [], "cost_loss": [], "val_step": [], "val_pct_opt": [], "val_pct_succ": []}
    start = 0
    last = out / "last.safetensors"
    if last.exists():
        start, history = _resume(last, model, opt, cfg)
        print(f"resuming from step {start} ({last})")
    # the last digits of %Opt need costs right to ~0.1 %: a cosine decay of the step gets closer than a constant one
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + np.cos(np.pi * min(i + start, cfg.steps) / cfg.steps)))
    problems = make_problems(cfg.maps, cfg.size, 0, cfg.goals, graph_cfg, desc="training maps")
    validation = make_problems(cfg.val_maps, cfg.size, VALIDATION_SEED, 1, graph_cfg, desc="validation maps") \
        if cfg.validate_every else []
    rng = np.random.default_rng(cfg.seed + start)
    bar = progress(range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"training {model_cfg.kind}",
                   unit="step")
    model.train()
    for step in bar:
        chosen = [problems[i] for i in rng.choice(len(problems), size=min(cfg.batch, len(problems)), replace=False)]
        value_loss, cost_loss = losses(model, *batch(chosen))
        opt.zero_grad()
        (value_loss + cost_loss).backward()
        opt.step()
        schedule.step()
        history["step"].append(step)
        history["value_loss"].append(float(value_loss.detach()))
        history["cost_loss"].append(float(cost_loss.detach()))
        bar.set_postfix(value=f"{np.mean(history['value_loss'][-20:]):.3f}",
                        cost=f"{np.mean(history['cost_loss'][-20:]):.3f}", refresh=False)
        done = step + 1
        if validation and (done % cfg.validate_every == 0 or done == cfg.steps):
            model.eval()
            result = evaluate(model, validation, desc="validating")
            model.train()
            history["val_step"].append(done)
            history["val_pct_opt"].append(result["pct_opt"])
            history["val_pct_succ"].append(result["pct_succ"])
            tqdm.write(f"step {done}: %Opt {result['pct_opt']:.1f} %Succ {result['pct_succ']:.1f} "
                       f"on {len(validation)} validation maps")
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save(last, model, opt, done, history, cfg)
    final = save(out / "navigation.safetensors", model, None, cfg.steps, history, cfg)
    atomic_write_json(out / "history.json", history)
    plot_history(history, out / "training.png")
    return final


def save(path: Path, model: MPVIN, opt, step: int, history: dict, cfg: NavTrainConfig) -> Path:
    tensors = dict(model.state_dict())
    if opt is not None:
        tensors.update(optimizer_tensors(opt))
    meta = {"capability": CHECKPOINT_KIND, "kind": model.config.kind, "model": model.config.to_dict(),
            "train": asdict(cfg), "graph": cfg.graph, "step": step, "history": history}
    return save_checkpoint(path, tensors, meta)


def load_model(path: str | Path, device: str = "cpu") -> tuple[MPVIN, dict]:
    """A trained planner network and its checkpoint's metadata (safetensors, never unpickled)."""
    return load_trained(path, CHECKPOINT_KIND, lambda meta: MPVIN(NavModelConfig.from_dict(meta["model"])), device)


def _resume(path: Path, model: MPVIN, opt: torch.optim.Optimizer, cfg: NavTrainConfig) -> tuple[int, dict]:
    def other_run(meta: dict) -> str:
        saved = meta.get("train", {})
        if NavModelConfig.from_dict(meta["model"]) == model.config and \
                (saved.get("maps"), saved.get("size")) == (cfg.maps, cfg.size):
            return ""
        return f"{meta['model']}, maps {saved.get('maps')}, size {saved.get('size')}"

    return resume_into(path, model, opt, other_run)


def plot_history(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    plot_losses(a, history, ("value_loss", "cost_loss"))
    a.set(xlabel="step", ylabel="loss", yscale="log", title="training loss")
    b.plot(history["val_step"], history["val_pct_opt"], "o-", label="%Opt")
    b.plot(history["val_step"], history["val_pct_succ"], "s--", label="%Succ")
    b.set(xlabel="step", ylabel="% of starts", ylim=(0, 101), title="validation maps")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
