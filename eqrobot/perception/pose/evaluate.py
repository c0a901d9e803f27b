"""Scoring a pose network on a rendered set.

- ``loglik``: the log-density (per unit of volume pi^2, so a uniform density scores -2.29 as in
  IPDF and Image2Sphere) at every ground-truth equivalent of each image, averaged over the
  equivalents, then over images. The density is normalised over the level-3 grid turned by
  ``shifts`` random rotations (36,864 x shifts cells): finer than the level-5 grid when
  ``shifts`` >= 64, and unbiased.
- ``median_err_deg``, ``acc5``, ``acc15``, ``acc30``: the angle from the refined best mode to
  the nearest ground-truth equivalent; median, share under 5, 15 and 30 degrees.
Each also per shape, under ``per_shape``. Objects (``evaluate_objects``) also get ``axes``: the
same errors up to the half turns about the axes of the object's frame (random_urdfs: its
principal axes), i.e. how well the axes are found whichever way they point (the strict error
above stays the score).
"""

from __future__ import annotations

import numpy as np
import torch

from eqrobot.geometry.grids import SO3Grid
from eqrobot.geometry.rotations import random_rotations
from eqrobot.perception.pose.data import PoseArrays
from eqrobot.perception.pose.model import LOG_VOLUME, PoseNet, grid_features, log_density_at, log_normaliser
from eqrobot.perception.pose.predictor import DENSITY_LEVEL, angle_between, refine
from eqrobot.progress import progress

NORMALISER_SHIFTS = 8
# which way an object frame's axes point: identity and the half turns about its x, y and z axes
HALF_TURNS = np.array([np.diag(d) for d in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1))], dtype=np.float64)


def evaluate(model: PoseNet, arrays: PoseArrays, batch: int = 32, shifts: int = NORMALISER_SHIFTS,
             desc: str = "evaluating") -> dict:
    return summarise(*score_images(model, arrays, batch, shifts, desc), arrays.shape)


def evaluate_objects(model: PoseNet, arrays: PoseArrays, batch: int = 32, shifts: int = NORMALISER_SHIFTS,
                     desc: str = "evaluating") -> dict:
    """``evaluate`` for objects from pybullet_data: an estimate off by one of the object's
    look-alike turns (``sim.object_symmetry``) counts as right; no ``per_shape`` (one row per
    object), the objects with no look-alike turn apart under ``asymmetric`` and each class
    (``class_of``) under ``per_class``; ``axes`` in each (the module docstring)."""
    arrays = with_lookalikes(arrays)
    loglik, best = estimate_images(model, arrays, batch, shifts, desc)
    error = errors(best, arrays.equivalents)
    axes_error = errors(best, [with_half_turns(e) for e in arrays.equivalents])
    alone = np.array([len(e) == 1 for e in arrays.equivalents])

    classes = np.array([class_of(str(s)) for s in arrays.shape])

    def scores(mask: np.ndarray) -> dict:
        return {**summarise(loglik[mask], error[mask], arrays.shape[mask], per_shape=False),
                "axes": _errors_summary(axes_error[mask])}

    return {**scores(np.ones(len(arrays), dtype=bool)),
            "asymmetric": {**scores(alone), "objects": len(set(arrays.shape[alone].tolist()))},
            "per_class": {c: scores(classes == c) for c in dict.fromkeys(classes.tolist())}}


def with_half_turns(equivalents: np.ndarray) -> np.ndarray:
    """``(K, 3, 3)`` orientations -> ``(4K, 3, 3)``: each also with its frame's axes turned half a turn."""
    return (equivalents[:, None].astype(np.float64) @ HALF_TURNS).reshape(-1, 3, 3)


def class_of(shape: str) -> str:
    """``mug-012`` -> ``mug``, ``object-807`` -> ``object``; a name without a number is its own class."""
    name, _, number = shape.rpartition("-")
    return name if name and len(number) == 3 and number.isdigit() else shape


def with_lookalikes(arrays: PoseArrays) -> PoseArrays:
    """The set with every orientation that looks like an image's ground truth as its equivalents."""
    from eqrobot.sim.object_symmetry import lookalikes

    turns = {str(s): lookalikes(str(s)) for s in dict.fromkeys(arrays.shape.tolist())}
    return PoseArrays(arrays.rgb, arrays.rotation, arrays.shape,
                      [(r.astype(np.float64) @ turns[str(s)]).astype(np.float32)
                       for r, s in zip(arrays.rotation, arrays.shape, strict=True)])


def score_images(model: PoseNet, arrays: PoseArrays, batch: int = 32, shifts: int = NORMALISER_SHIFTS,
                 desc: str = "evaluating") -> tuple[np.ndarray, np.ndarray]:
    """Per image: the log-likelihood of its ground truth and the error of the estimate (degrees)."""
    loglik, best = estimate_images(model, arrays, batch, shifts, desc)
    return loglik, errors(best, arrays.equivalents)


def errors(estimates: np.ndarray, equivalents: list[np.ndarray]) -> np.ndarray:
    """Degrees from each estimate to the nearest of its image's equivalents."""
    return np.degrees([angle_between(r[None], e.astype(np.float64)).min()
                       for r, e in zip(estimates, equivalents, strict=True)])


@torch.no_grad()
def estimate_images(model: PoseNet, arrays: PoseArrays, batch: int = 32, shifts: int = NORMALISER_SHIFTS,
                    desc: str = "evaluating") -> tuple[np.ndarray, np.ndarray]:
    """Per image: the log-likelihood of its ground truth and the refined best mode ``(N, 3, 3)``."""
    device = next(model.parameters()).device
    lmax = model.config.lmax
    grid = grid_features(DENSITY_LEVEL, lmax).to(device)
    cells = torch.tensor(SO3Grid(DENSITY_LEVEL).rotations, device=device)
    turns = torch.tensor(random_rotations(shifts, seed=12345), dtype=torch.float32, device=device)
    loglik, best = np.zeros(len(arrays)), np.zeros((len(arrays), 3, 3))
    model.eval()
    for start in progress(range(0, len(arrays), batch), desc=desc, unit="batch"):
        index = np.arange(start, min(start + batch, len(arrays)))
        images = torch.as_tensor(arrays.rgb[index], device=device).permute(0, 3, 1, 2).float() / 255
        coeffs = model(images)
        log_z = log_normaliser(coeffs, grid, lmax, turns)
        for row, i in enumerate(index):
            equivalents = torch.as_tensor(arrays.equivalents[i], device=device)[None]
            loglik[i] = float(log_density_at(coeffs[row:row + 1], equivalents, log_z[row:row + 1], lmax).mean())
        top = (coeffs @ grid).argmax(dim=1)
        best[index] = refine(coeffs, cells[top], lmax, grid[:, top].T).cpu().numpy()
    return loglik, best


def summarise(loglik: np.ndarray, error_deg: np.ndarray, shapes: np.ndarray, per_shape: bool = True) -> dict:
    """The scores of all images, and under ``per_shape`` those of each shape (empty when not wanted)."""
    def scores(mask: np.ndarray) -> dict:
        return {"loglik": float(loglik[mask].mean()), **_errors_summary(error_deg[mask]), "images": int(mask.sum())}

    out = scores(np.ones(len(loglik), dtype=bool))
    out["per_shape"] = {str(s): scores(shapes == s) for s in dict.fromkeys(shapes.tolist())} if per_shape else {}
    return out


def _errors_summary(e: np.ndarray) -> dict:
    return {"median_err_deg": float(np.median(e)), "acc5": float((e < 5).mean()), "acc15": float((e < 15).mean()),
            "acc30": float((e < 30).mean())}


def uniform_loglik() -> float:
    """What a uniform density scores: ``-log(pi^2)``."""
    return -LOG_VOLUME
