"""Training a Transporter agent on a folder of episodes (docs/episode_format.md).

Each step takes one demonstrated action, turns and shifts the whole scene at random (the
demonstration's pick and place pixels with it; the turn between pick and place is unchanged),
and lowers the cross-entropy of the demonstrated pick pixel under the attention scores and of
the demonstrated (angle, place pixel) under the transport scores. Checkpoints are atomic and
the run resumes from ``last.safetensors``; when a task is given, the agent is tried in the
simulator at every validation, on odd seeds far from the test episodes' (``VALIDATION_SEED``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional
from tqdm import tqdm

from eqrobot.device import resolve_device
from eqrobot.geometry.heightmap import Workspace
from eqrobot.io.atomic import atomic_write_json
from eqrobot.io.checkpoint import (
    load_checkpoint,
    load_optimizer_tensors,
    optimizer_tensors,
    save_checkpoint,
    without_optimizer,
)
from eqrobot.plots import plot_losses
from eqrobot.policy.transporter.agent import TransporterAgent, scene_tensor
from eqrobot.policy.transporter.data import iter_episodes
from eqrobot.policy.transporter.evaluate import evaluate
from eqrobot.policy.transporter.model import Transporter, TransporterConfig, rotate, rotate_pixels
from eqrobot.progress import progress

# Validation episodes: odd (test-side) seeds from here on, apart from the test episodes
# (seeds 1, 3, ...), so that choosing settings on validation does not tune on the test set.
VALIDATION_SEED = 100_001
# base: Ravens' 1e-4. eq: at 1e-4 its pick scores stayed near uniform for ~300 steps on one
# block-insertion demo; at 3e-4 it solved 10/10 validation episodes after 200 steps.
DEFAULT_LR = {"base": 1e-4, "eq": 3e-4}


@dataclass
class TrainConfig:
    steps: int = 1000
    lr: float | None = None  # Adam's step size; None: DEFAULT_LR of the agent
    seed: int = 0
    augment: bool = True
    demos: int | None = None  # use the first N episodes of the folder (all by default)
    episodes: tuple[int, ...] | None = None  # or these (indices among the folder's readable episodes)
    checkpoint_every: int = 100
    validate_every: int = 0  # steps between simulator validations (0: none)
    val_episodes: int = 10
    device: str = "auto"  # where the networks train: auto (a GPU when there is one), cpu, cuda[:N]


@dataclass
class Example:
    scene: torch.Tensor  # (4, rows, cols)
    pick: torch.Tensor  # (2,) row, col
    place: torch.Tensor  # (2,) row, col
    turn: int  # rotation bin of place yaw - pick yaw
    episode: int = 0  # which demonstration it comes from

    def to(self, device: str) -> Example:
        return Example(self.scene.to(device), self.pick.to(device), self.place.to(device), self.turn, self.episode)


def load_examples(folder: str | Path, rotations: int, demos: int | None = None,
                  chosen: tuple[int, ...] | None = None) -> tuple[list[Example], Workspace]:
    """One example per demonstrated action of the first ``demos`` readable episodes, or of the
    ``chosen`` ones (indices among the readable episodes); each example knows its episode
    (``Example.episode``)."""
    examples, workspace, found = [], None, 0
    for i, episode in enumerate(iter_episodes(folder)):
        found = i + 1
        if chosen is None and demos is not None and i >= demos:
            break
        if chosen is not None and i not in chosen:
            continue
        ws = Workspace(tuple(map(tuple, episode.bounds)), float(episode.pixel_size))
        if workspace is not None and ws != workspace:
            raise ValueError(f"{folder}: episodes with different workspaces ({workspace} and {ws})")
        workspace = ws
        for t in range(len(episode)):
            turn = (episode.place[t, 3] - episode.pick[t, 3]) % (2 * math.pi)
            examples.append(Example(scene_tensor(episode.color[t], episode.height[t])[0],
                                    torch.as_tensor(ws.xy_to_pixel(episode.pick[t, :2])),
                                    torch.as_tensor(ws.xy_to_pixel(episode.place[t, :2])),
                                    int(round(turn / (2 * math.pi / rotations))) % rotations, i))
    missing = sorted(i for i in chosen or () if not 0 <= i < found)
    if missing:
        raise ValueError(f"{folder}: episodes {missing} asked for, {found} readable episodes there")
    if not examples:
        raise ValueError(f"{folder}: no readable episodes")
    return examples, workspace


def augmented(example: Example, rng: np.random.Generator, attempts: int = 20) -> Example:
    """The scene turned about its centre and shifted at random, pixels moved alike; both
    pixels stay inside the image. The turn between pick and place does not change."""
    _, rows, cols = example.scene.shape
    for _ in range(attempts):
        angle = float(rng.uniform(0, 2 * math.pi))
        shift = torch.as_tensor(rng.integers(-rows // 4, rows // 4 + 1), dtype=torch.float64), \
            torch.as_tensor(rng.integers(-cols // 4, cols // 4 + 1), dtype=torch.float64)
        moved = [rotate_pixels(px, angle, (rows, cols)) + torch.stack(shift) for px in (example.pick, example.place)]
        pixels = [torch.round(m).long() for m in moved]
        if all(0 <= int(px[0]) < rows and 0 <= int(px[1]) < cols for px in pixels):
            scene = rotate(example.scene[None], torch.tensor([angle]))[0]
            scene = torch.roll(scene, shifts=(int(shift[0]), int(shift[1])), dims=(1, 2))
            return Example(scene, pixels[0], pixels[1], example.turn, example.episode)
    return example


def losses(model: Transporter, example: Example) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropies of the demonstrated pick and of the demonstrated (angle, place)."""
    scene = example.scene[None]
    rows, cols = scene.shape[-2:]
    pick_target = example.pick[0] * cols + example.pick[1]
    pick = functional.cross_entropy(model.pick_logits(scene).reshape(1, -1), pick_target.view(1))
    place_target = (example.turn * rows + example.place[0]) * cols + example.place[1]
    place_scores = model.place_logits(scene, example.pick.view(1, 2))
    place = functional.cross_entropy(place_scores.reshape(1, -1), place_target.view(1))
    return pick, place


def train(data: str | Path, out_dir: str | Path, cfg: TrainConfig | None = None,
          model_cfg: TransporterConfig | None = None, task: str | None = None) -> Path:
    """Train on the episodes in ``data``; write ``out_dir/transporter.safetensors`` (final
    weights), ``last.safetensors`` (resumable), ``history.json`` and ``training.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = cfg or TrainConfig()
    model_cfg = model_cfg or TransporterConfig()
    device = resolve_device(cfg.device).device
    examples, workspace = load_examples(data, model_cfg.rotations, cfg.demos, cfg.episodes)
    demos = len({e.episode for e in examples})
    torch.manual_seed(cfg.seed)
    model = Transporter(model_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr or DEFAULT_LR[model_cfg.agent])
    history = {"step": [], "pick_loss": [], "place_loss": [], "val_step": [], "val_success": []}
    start = 0
    last = out / "last.safetensors"
    if last.exists():
        start, history = _resume(last, model, opt, task)
        print(f"resuming from step {start} ({last})")
    rng = np.random.default_rng(cfg.seed + start)
    bar = progress(range(start, cfg.steps), initial=start, total=cfg.steps, desc="training transporter", unit="step")
    model.train()
    for step in bar:
        example = examples[int(rng.integers(len(examples)))]
        # augmentation stays on the CPU: its pixel bookkeeping is a few scalars
        pick, place = losses(model, (augmented(example, rng) if cfg.augment else example).to(device))
        opt.zero_grad()
        (pick + place).backward()
        opt.step()
        history["step"].append(step)
        history["pick_loss"].append(float(pick.detach()))
        history["place_loss"].append(float(place.detach()))
        bar.set_postfix(pick=f"{np.mean(history['pick_loss'][-20:]):.2f}",
                        place=f"{np.mean(history['place_loss'][-20:]):.2f}", refresh=False)
        done = step + 1
        if task and cfg.validate_every and (done % cfg.validate_every == 0 or done == cfg.steps):
            model.eval()
            rate = evaluate(TransporterAgent(model, workspace, device), task, cfg.val_episodes,
                            first_seed=VALIDATION_SEED)["success_rate"]
            history["val_step"].append(done)
            history["val_success"].append(rate)
            tqdm.write(f"step {done}: {task} success {rate:.2f} over {cfg.val_episodes} validation episodes")
            model.train()
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            _save(last, model, opt, done, history, cfg, workspace, data, demos, task)
    final = _save(out / "transporter.safetensors", model, None, cfg.steps, history, cfg, workspace, data, demos, task)
    atomic_write_json(out / "history.json", history)
    plot_history(history, out / "training.png")
    return final


def _save(path: Path, model: Transporter, opt, step: int, history: dict, cfg: TrainConfig, workspace: Workspace,
          data, demos: int, task: str | None) -> Path:
    tensors = model.weights()
    if opt is not None:
        tensors.update(optimizer_tensors(opt))
    meta = {"agent": model.config.agent, "task": task, "model": model.config.to_dict(), "train": asdict(cfg),
            "step": step, "data": str(data), "demos": demos,
            "workspace": {"bounds": [list(b) for b in workspace.bounds], "pixel_size": workspace.pixel_size},
            "history": history}
    return save_checkpoint(path, tensors, meta)


def _resume(path: Path, model: Transporter, opt: torch.optim.Optimizer, task: str | None) -> tuple[int, dict]:
    tensors, meta = load_checkpoint(path)
    if TransporterConfig.from_dict(meta["model"]) != model.config or meta.get("task") != task:
        raise ValueError(f"{path} is a run of another agent or task ({meta.get('agent')}, {meta['model']}, task "
                         f"{meta.get('task')}); give a new --out folder or the same settings to resume")
    model.load_weights(without_optimizer(tensors))
    load_optimizer_tensors(opt, tensors)
    return int(meta["step"]), meta["history"]


def plot_history(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    plot_losses(a, history, ("pick_loss", "place_loss"))
    a.set(xlabel="step", ylabel="cross-entropy", title="training loss")
    b.plot(history["val_step"], history["val_success"], "o-")
    b.set(xlabel="step", ylabel="success rate", ylim=(0, 1.05), title="simulator validation episodes")
    if not history["val_step"]:
        b.text(0.5, 0.5, "not validated in the simulator\n(train with --task and --validate-every)",
               ha="center", va="center", transform=b.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
