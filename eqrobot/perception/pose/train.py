"""Training a pose network on a rendered set (``eqrobot dataset pose``).

Each step lowers the negative log-density of the sampled orientation of each image (for a
symmetric solid, whichever equivalent the renderer drew: the density learns to spread over all
of them). The density is normalised on the level-3 grid turned by a fresh random rotation each
step, so no cell centre can be learnt as a shortcut. Checkpoints are atomic; a run resumes from
``last.safetensors``.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from eqrobot.io.atomic import atomic_write_json
from eqrobot.io.checkpoint import load_trained, optimizer_tensors, resume_into, save_checkpoint
from eqrobot.perception.pose.augment import turn_in_plane
from eqrobot.perception.pose.data import PoseArrays, load_arrays
from eqrobot.perception.pose.evaluate import evaluate, uniform_loglik
from eqrobot.perception.pose.model import PoseModelConfig, PoseNet, log_density_at, log_normaliser
from eqrobot.plots import plot_losses
from eqrobot.progress import progress

CHECKPOINT_KIND = "pose"


@dataclass
class PoseTrainConfig:
    data: str = ""  # a set folder or a packed .npz
    val_data: str = ""  # optional, scored every validate_every steps
    fraction: float = 1.0  # share of the training set used (the first images)
    steps: int = 20000
    batch: int = 32
    lr: float = 1e-3
    warmup: int = -1  # steps of linear warm-up; -1: a tenth of the steps, at most 500
    seed: int = 0
    checkpoint_every: int = 500
    validate_every: int = 2000
    val_images: int = 500
    turn_images: bool = False  # each image turned by a random angle about its centre (augment.turn_in_plane)
    start_from: str = ""  # weights to start from (fine-tuning); the architecture is theirs

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.steps < 1 or self.batch < 1:
            raise ValueError("steps and batch must be positive")
        if self.warmup < 0:
            self.warmup = min(500, self.steps // 10)


def loss(model: PoseNet, images: torch.Tensor, rotations: torch.Tensor, turn: torch.Tensor) -> torch.Tensor:
    """Mean negative log-density of ``rotations (B, 3, 3)``; the grid turned on the right by ``turn``."""
    coeffs = model(images)
    log_z = log_normaliser(coeffs, model.train_grid, model.config.lmax, turn[None])
    return -log_density_at(coeffs, rotations[:, None], log_z, model.config.lmax).mean()


def train(out_dir: str | Path, cfg: PoseTrainConfig, model_cfg: PoseModelConfig | None = None,
          device: str = "cpu") -> Path:
    """Write ``out_dir/pose.safetensors`` (final weights), ``last.safetensors`` (resumable),
    ``history.json`` and ``training.png``."""
    from eqrobot.geometry.rotations import random_rotations

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = training_subset(load_arrays(cfg.data), cfg.fraction)
    validation = load_arrays(cfg.val_data, cfg.val_images) if cfg.val_data and cfg.validate_every else None
    torch.manual_seed(cfg.seed)
    model = starting_model(cfg, model_cfg, device)
    model_cfg = model.config
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    history = {"step": [], "loss": [], "val_step": [], "val_loglik": [], "val_median_err_deg": []}
    start = 0
    last = out / "last.safetensors"
    if last.exists():
        start, history = _resume(last, model, opt, cfg)
        print(f"resuming from step {start} ({last})")
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: _lr_factor(i + start, cfg))
    images = torch.as_tensor(arrays.rgb, device=device)  # uint8 on the device: a step copies nothing
    rotations = torch.as_tensor(arrays.rotation, device=device)
    rng = np.random.default_rng(cfg.seed + start)
    angles = torch.Generator().manual_seed(cfg.seed + start)
    bar = progress(range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"training {model_cfg.kind}",
                   unit="step")
    model.train()
    for step in bar:
        index = torch.as_tensor(rng.choice(len(arrays), size=min(cfg.batch, len(arrays)), replace=False),
                                device=device)
        turn = torch.tensor(random_rotations(1, seed=int(rng.integers(2**31)))[0], dtype=torch.float32,
                            device=device)
        x, y = images[index].permute(0, 3, 1, 2).float() / 255, rotations[index]
        if cfg.turn_images:
            x, y = turn_in_plane(x, y, torch.rand(len(index), generator=angles, device="cpu").to(device) * 2 * math.pi)
        value = loss(model, x, y, turn)
        opt.zero_grad()
        value.backward()
        opt.step()
        schedule.step()
        history["step"].append(step)
        history["loss"].append(float(value.detach()))
        bar.set_postfix(loss=f"{np.mean(history['loss'][-50:]):.3f}", refresh=False)
        done = step + 1
        if validation is not None and (done % cfg.validate_every == 0 or done == cfg.steps):
            _validate(model, validation, done, history)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save(last, model, opt, done, history, cfg, device)
    final = save(out / "pose.safetensors", model, None, cfg.steps, history, cfg, device)
    atomic_write_json(out / "history.json", history)
    plot_history(history, out / "training.png")
    return final


def starting_model(cfg: PoseTrainConfig, model_cfg: PoseModelConfig | None, device: str) -> PoseNet:
    """A fresh network of ``model_cfg``, or the weights of ``cfg.start_from`` (whose architecture
    ``model_cfg``, when given, must match)."""
    if not cfg.start_from:
        return PoseNet(model_cfg or PoseModelConfig()).to(device)
    model, _ = load_model(cfg.start_from, device)
    if model_cfg is not None and model_cfg != model.config:
        raise ValueError(f"{cfg.start_from} holds a network of kind {model.config.kind} for "
                         f"{model.config.image_size} px images; asked for kind {model_cfg.kind}, "
                         f"{model_cfg.image_size} px")
    return model


def training_subset(arrays: PoseArrays, fraction: float) -> PoseArrays:
    n = max(1, int(round(len(arrays) * fraction)))
    return arrays.subset(np.arange(n)) if n < len(arrays) else arrays


def _lr_factor(step: int, cfg: PoseTrainConfig) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    return 0.5 * (1 + math.cos(math.pi * min(step, cfg.steps) / cfg.steps))


def _validate(model: PoseNet, validation: PoseArrays, step: int, history: dict) -> None:
    result = evaluate(model, validation, desc="validating")
    model.train()
    history["val_step"].append(step)
    history["val_loglik"].append(result["loglik"])
    history["val_median_err_deg"].append(result["median_err_deg"])
    tqdm.write(f"step {step}: log-likelihood {result['loglik']:.2f}, median error "
               f"{result['median_err_deg']:.1f} deg on {len(validation)} validation images")


def save(path: Path, model: PoseNet, opt, step: int, history: dict, cfg: PoseTrainConfig, device: str) -> Path:
    tensors = dict(model.state_dict())
    if opt is not None:
        tensors.update(optimizer_tensors(opt))
    meta = {"capability": CHECKPOINT_KIND, "kind": model.config.kind, "model": model.config.to_dict(),
            "train": asdict(cfg), "step": step, "history": history, "trained_on": device_name(device)}
    return save_checkpoint(path, tensors, meta)


def device_name(device: str) -> str:
    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"{os.cpu_count()} CPU cores"


def load_model(path: str | Path, device: str = "cpu") -> tuple[PoseNet, dict]:
    """A trained pose network and its checkpoint's metadata (safetensors, never unpickled)."""
    return load_trained(path, CHECKPOINT_KIND, lambda meta: PoseNet(PoseModelConfig.from_dict(meta["model"])), device)


def _resume(path: Path, model: PoseNet, opt: torch.optim.Optimizer, cfg: PoseTrainConfig) -> tuple[int, dict]:
    def other_run(meta: dict) -> str:
        saved = meta.get("train", {})
        if PoseModelConfig.from_dict(meta["model"]) == model.config and \
                (saved.get("data"), saved.get("fraction")) == (cfg.data, cfg.fraction):
            return ""
        return f"{meta['model']}, data {saved.get('data')}, fraction {saved.get('fraction')}"

    return resume_into(path, model, opt, other_run)


def plot_history(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    plot_losses(a, history, ("loss",))
    a.set(xlabel="step", ylabel="negative log-density", title="training loss")
    b.plot(history["val_step"], history["val_loglik"], "o-")
    b.axhline(uniform_loglik(), color="grey", linestyle=":", label="uniform")
    b.set(xlabel="step", ylabel="log-likelihood", title="validation images")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
