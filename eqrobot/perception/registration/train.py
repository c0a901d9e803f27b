"""Train the descriptor network on synthetic partial scans.

Each step takes one pair of overlapping partial views, and asks every sampled source
point's descriptor to be closer to its true partner's than to every other target point
(InfoNCE over the whole target cloud; target points within two voxels of the true
partner are not counted as negatives). Checkpoints are written atomically every
``checkpoint_every`` steps and training resumes from the last one.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from tqdm import tqdm

from eqrobot.geometry.transforms import apply, rotation_error, translation_error
from eqrobot.io.atomic import atomic_write_json
from eqrobot.io.checkpoint import (
    load_checkpoint,
    load_optimizer_tensors,
    optimizer_tensors,
    save_checkpoint,
    without_optimizer,
)
from eqrobot.perception.registration.estimator import robust_rigid_fit
from eqrobot.perception.registration.matching import match_descriptors
from eqrobot.perception.registration.model import DescriptorConfig, DescriptorNet, descriptor_inputs
from eqrobot.perception.registration.pairs import RegistrationPair
from eqrobot.perception.registration.preprocess import estimate_voxel_size, prepare
from eqrobot.progress import progress


@dataclass
class TrainConfig:
    train_pairs: int = 300
    val_pairs: int = 40
    steps: int = 3000
    lr: float = 2e-3
    temperature: float = 0.07
    anchors: int = 256
    positive_voxels: float = 1.0  # a target point within this distance of a moved source point is its partner
    checkpoint_every: int = 250
    validate_every: int = 500
    seed: int = 0


@dataclass
class Sample:
    """One pair, preprocessed once: descriptor inputs for both sides and true partners."""

    src_inputs: object
    tgt_inputs: object
    src_points: np.ndarray
    tgt_points: np.ndarray
    partners: np.ndarray  # (P, 2) source/target indices
    transform: np.ndarray
    voxel: float


def make_sample(pair: RegistrationPair, desc: DescriptorConfig, positive_voxels: float) -> Sample | None:
    voxel = estimate_voxel_size(pair.target)
    src, tgt = prepare(pair.source, voxel, fpfh=False), prepare(pair.target, voxel, fpfh=False)
    moved = apply(pair.transform, src.points)
    tree = cKDTree(tgt.points)
    dist, j = tree.query(moved)
    ok = dist < positive_voxels * voxel
    if ok.sum() < 16:
        return None
    partners = np.stack([np.nonzero(ok)[0], j[ok]], axis=1)
    return Sample(descriptor_inputs(src.points, src.normals, voxel, desc, normal_ok=src.normal_ok),
                  descriptor_inputs(tgt.points, tgt.normals, voxel, desc, normal_ok=tgt.normal_ok),
                  src.points, tgt.points, partners, pair.transform, voxel)


def make_samples(pairs, desc: DescriptorConfig, positive_voxels: float, label: str) -> list[Sample]:
    samples = []
    for pair in progress(pairs, desc=f"preparing {label} pairs", unit="pair", leave=False):
        s = make_sample(pair, desc, positive_voxels)
        if s is not None:
            samples.append(s)
    return samples


def contrastive_loss(net: DescriptorNet, s: Sample, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    d_src = net(s.src_inputs.ppf, s.src_inputs.mask)
    d_tgt = net(s.tgt_inputs.ppf, s.tgt_inputs.mask)
    pick = torch.randperm(len(s.partners), generator=gen)[: cfg.anchors]
    pairs = torch.as_tensor(s.partners)[pick]
    logits = d_src[pairs[:, 0]] @ d_tgt.T / cfg.temperature
    tgt = torch.as_tensor(s.tgt_points)
    # Target points right next to the true partner are as good a match: not negatives.
    not_negative = torch.cdist(tgt[pairs[:, 1]], tgt) < 2 * s.voxel
    not_negative[torch.arange(len(pick)), pairs[:, 1]] = False
    logits = logits.masked_fill(not_negative, -1e4)
    return torch.nn.functional.cross_entropy(logits, pairs[:, 1])


@torch.no_grad()
def validate(net: DescriptorNet, samples: list[Sample]) -> dict:
    """Share of matches that are correct (inlier ratio) and registration recall (5 deg, 5 % of size)."""
    net.eval()
    ratios, hits = [], []
    for s in samples:
        d_src = net(s.src_inputs.ppf, s.src_inputs.mask)
        d_tgt = net(s.tgt_inputs.ppf, s.tgt_inputs.mask)
        pairs, _ = match_descriptors(d_src, d_tgt, 1000)
        moved = apply(s.transform, s.src_points[pairs[:, 0]])
        ratios.append(float(np.mean(np.linalg.norm(moved - s.tgt_points[pairs[:, 1]], axis=1) < 2 * s.voxel)))
        fit = robust_rigid_fit(s.src_points[pairs[:, 0]], s.tgt_points[pairs[:, 1]], 2.5 * s.voxel)
        size = float(np.linalg.norm(np.ptp(s.tgt_points, axis=0)))
        hits.append(bool(np.degrees(rotation_error(fit.transform, s.transform)) < 5
                         and translation_error(fit.transform, s.transform) < 0.05 * size))
    net.train()
    return {"inlier_ratio": float(np.mean(ratios)), "recall": float(np.mean(hits))}


def _lr(step: int, cfg: TrainConfig) -> float:
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(step / max(cfg.steps, 1), 1.0)))


def mixed_pairs(split: str, n: int, seed: int, pair_source=None) -> list[RegistrationPair]:
    """Ray-cast partial views and RPM-Net-style crops, half each."""
    from eqrobot.perception.registration.data import make_pairs

    make = pair_source or make_pairs
    return make("partial", split, n - n // 2, seed) + make("rpmnet", split, n // 2, seed)


def val_pairs(n: int, seed: int) -> list[RegistrationPair]:
    """The held-out pairs training validates and calibrates on."""
    return mixed_pairs("val", n, seed)


def train(out_dir: str | Path, cfg: TrainConfig, desc: DescriptorConfig | None = None,
          pair_source=None) -> Path:
    """Train, writing ``out_dir/last.safetensors`` (resumable), ``step_NNNNN.safetensors``
    (weights at each validation), ``descriptor.safetensors`` (final weights with calibrated
    acceptance thresholds), ``history.json`` and ``training.png``. Returns the weights' path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    desc = desc or DescriptorConfig()
    torch.manual_seed(cfg.seed)
    def both_kinds(split: str, n: int, seed: int) -> list[RegistrationPair]:
        return mixed_pairs(split, n, seed, pair_source)

    train_samples = make_samples(both_kinds("train", cfg.train_pairs, cfg.seed), desc, cfg.positive_voxels,
                                 "training")
    val_samples = make_samples(both_kinds("val", cfg.val_pairs, cfg.seed + 1), desc, cfg.positive_voxels,
                               "validation")
    if not train_samples or not val_samples:
        raise ValueError("no usable training or validation pairs (overlap too small?)")

    net = DescriptorNet(desc)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    history = {"step": [], "loss": [], "val_step": [], "val_recall": [], "val_inlier_ratio": []}
    start, best_recall = 0, -1.0
    last = out / "last.safetensors"
    if last.exists():
        start, best_recall, history = _resume(last, net, opt)
        print(f"resuming from step {start} ({last})")

    gen = torch.Generator().manual_seed(cfg.seed + start)
    order = np.random.default_rng(cfg.seed).permutation(np.resize(np.arange(len(train_samples)), cfg.steps))
    bar = progress(range(start, cfg.steps), initial=start, total=cfg.steps, desc="training descriptor", unit="step")
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        loss = contrastive_loss(net, train_samples[order[step]], cfg, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["step"].append(step)
        history["loss"].append(float(loss.detach()))
        bar.set_postfix(loss=f"{np.mean(history['loss'][-50:]):.3f}", refresh=False)
        done = step + 1
        if done % cfg.validate_every == 0 or done == cfg.steps:
            metrics = validate(net, val_samples)
            history["val_step"].append(done)
            history["val_recall"].append(metrics["recall"])
            history["val_inlier_ratio"].append(metrics["inlier_ratio"])
            tqdm.write(f"step {done}: val recall {metrics['recall']:.3f}, inlier ratio {metrics['inlier_ratio']:.3f}")
            best_recall = max(best_recall, metrics["recall"])
            # Weights-only snapshot at every validation: the step that transfers best to the
            # deployment data is chosen afterwards, on held-out data (see the model card).
            _save(out / f"step_{done:05d}.safetensors", net, None, done, best_recall, {}, desc, cfg)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            _save(last, net, opt, done, best_recall, history, desc, cfg)
    # The shipped weights are the final ones (cosine schedule to zero): validation on a
    # few dozen pairs is too noisy to pick an earlier step by.
    _save(out / "descriptor.safetensors", net, None, cfg.steps, best_recall, history, desc, cfg)
    atomic_write_json(out / "history.json", history)
    plot_history(history, out / "training.png")
    best = out / "descriptor.safetensors"
    calibrate_acceptance(best, both_kinds("val", cfg.val_pairs, cfg.seed + 1))
    return best


def _save(path, net, opt, step, best_recall, history, desc, cfg) -> None:
    tensors = dict(net.state_dict())
    if opt is not None:
        tensors.update(optimizer_tensors(opt))
    meta = {"descriptor": desc.to_dict(), "train": asdict(cfg), "step": step, "best_val_recall": best_recall,
            "history": history if opt is not None else {}}
    save_checkpoint(path, tensors, meta)


def _resume(path: Path, net: DescriptorNet, opt: torch.optim.Adam) -> tuple[int, float, dict]:
    tensors, meta = load_checkpoint(path)
    net.load_state_dict(without_optimizer(tensors))
    load_optimizer_tensors(opt, tensors)
    return int(meta["step"]), float(meta["best_val_recall"]), meta["history"]


def plot_history(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    loss = np.asarray(history["loss"])
    if len(loss):
        k = max(1, len(loss) // 100)
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
        a.plot(history["step"][: len(smooth)], smooth)
    a.set(xlabel="step", ylabel="InfoNCE loss", title="training loss")
    b.plot(history["val_step"], history["val_recall"], "o-", label="registration recall")
    b.plot(history["val_step"], history["val_inlier_ratio"], "s-", label="match inlier ratio")
    b.set(xlabel="step", ylim=(0, 1), title="validation (held-out meshes)")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def calibrate_acceptance(weights: Path, pairs: list[RegistrationPair]) -> dict:
    """Choose the ``converged`` thresholds (see ``RegistrarConfig``) on held-out pairs: the
    inlier floor, fitness floor, ambiguity ceiling and off-surface RMSE ceiling (in voxels)
    with the best F1 score of precision (accepted results that are right) and recall (right
    results that are accepted). Stored in the weights' metadata.

    Inlier counts scale with cloud size and overlap, so they only set a floor against
    chance agreement; fitness is low for right poses at low overlap, where the off-surface
    RMSE carries most of the signal; the ambiguity flags symmetric objects, whose wrong
    poses fit as well as the right one.
    """
    from eqrobot.perception.registration.evaluate import RRE_DEG, RTE_DIAMETER_SHARE, pair_diameter
    from eqrobot.perception.registration.registrar import Registrar, RegistrarConfig

    reg = Registrar(RegistrarConfig(method="eq", weights=str(weights), device="cpu", min_inliers=1, min_fitness=0.0,
                                    max_ambiguity=float("inf"), max_plane_rmse_voxels=float("inf")))
    rows = []
    for pair in progress(pairs, desc="calibrating acceptance", unit="pair"):
        r = reg(pair.source, pair.target)
        ok = (np.degrees(rotation_error(r.transform, pair.transform)) < RRE_DEG
              and translation_error(r.transform, pair.transform) < RTE_DIAMETER_SHARE * pair_diameter(pair))
        rows.append((r.num_inliers, r.fitness, r.ambiguity, r.plane_rmse / r.voxel, ok))
    inliers, fitness, ambiguity, off_surface, ok = (np.array(c) for c in zip(*rows, strict=True))
    best, best_f1 = {}, -1.0
    for n_min, f_min, a_max, r_max in itertools.product(range(6, 16, 3), np.arange(0.0, 0.91, 0.05),
                                                        (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, float("inf")),
                                                        [*np.arange(0.2, 0.81, 0.02), float("inf")]):
        accepted = (inliers >= n_min) & (fitness >= f_min) & (ambiguity <= a_max) & (off_surface <= r_max)
        precision = float(ok[accepted].mean()) if accepted.any() else 0.0
        recall = float((accepted & ok).sum() / max(ok.sum(), 1))
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        if f1 > best_f1 + 1e-12:
            best_f1 = f1
            best = {"min_inliers": n_min, "min_fitness": round(float(f_min), 2),
                "max_ambiguity": a_max if np.isfinite(a_max) else None,
                    "max_plane_rmse_voxels": round(float(r_max), 3) if np.isfinite(r_max) else None,
                    "precision": precision, "recall": recall}
    best["pairs"] = len(rows)
    tensors, meta = load_checkpoint(weights)
    meta["acceptance"] = best
    save_checkpoint(weights, tensors, meta)
    tqdm.write(f"acceptance thresholds: {best}")
    return best


def dense_val_pairs(n: int, seed: int = 5000) -> list[RegistrationPair]:
    """Views like a depth camera's (4096 points, 3 mm noise) of the validation meshes: the
    data that picks the snapshot that transfers best (the benchmark's meshes are held out)."""
    from eqrobot.perception.registration.data import DEPTH_CAMERA_VIEW, mesh_library, partial_pair

    names = [m for m in mesh_library("val") if m.startswith("random_urdfs")]
    return [partial_pair(names[(7 * i) % len(names)], seed + i, **DEPTH_CAMERA_VIEW) for i in range(n)]


def select_snapshot(run_dir: str | Path, n_pairs: int = 40) -> tuple[Path, dict[str, float]]:
    """Registration recall of every ``step_*.safetensors`` (and the final weights) of a run
    on :func:`dense_val_pairs`; returns the best file (earliest on ties) and all recalls."""
    from eqrobot.perception.registration.evaluate import run_pair
    from eqrobot.perception.registration.registrar import Registrar, RegistrarConfig

    run = Path(run_dir)
    final = run / "descriptor.safetensors"
    candidates = sorted(run.glob("step_*.safetensors")) + ([final] if final.is_file() else [])
    if not candidates:
        raise ValueError(f"{run}: no step_*.safetensors or descriptor.safetensors to choose from")
    pairs = dense_val_pairs(n_pairs)
    recalls = {}
    for path in progress(candidates, desc="scoring snapshots", unit="file"):
        reg = Registrar(RegistrarConfig(method="eq", weights=str(path), device="cpu"))
        recalls[path.name] = float(np.mean([run_pair(reg, p, repeats=1).success for p in pairs]))
    best = max(candidates, key=lambda c: recalls[c.name])
    return best, recalls


def summary(path: Path) -> str:
    _, meta = load_checkpoint(path)
    return json.dumps({k: meta.get(k) for k in ("step", "best_val_recall", "acceptance")})
