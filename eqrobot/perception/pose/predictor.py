"""The pose predictor: one image (and optionally depth + intrinsics) in, a density over the
object's orientation out, with its modes, a point estimate, an uncertainty and a translation.

Rotations are the object's orientation in the camera's optical frame (x right, y down, z
forward), as the training renders store them. ``PoseEstimate.density`` holds the probability
of each cell of the level-3 HEALPix-Hopf grid (36,864 cells, 7.4 deg apart).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from eqrobot.cuda_graphs import GraphedNetwork
from eqrobot.geometry.grids import SO3Grid
from eqrobot.geometry.harmonics import wigner_d
from eqrobot.perception.pose.crop import roi_crop, square_crop
from eqrobot.perception.pose.model import grid_features

DENSITY_LEVEL = 3
MODE_SEPARATION_DEG = 15.0  # two modes closer than this are one
MAX_MODES = 64  # each mode is one round of the search over the grid
COVARIANCE_RADIUS_DEG = 30.0  # the mass around the best mode its covariance is taken from


@dataclass
class PoseEstimate:
    rotation: np.ndarray  # (3, 3) the best mode, refined
    modes: np.ndarray  # (k, 3, 3) best first
    mode_mass: np.ndarray  # (k,) probability within MODE_SEPARATION_DEG of each mode
    covariance: np.ndarray  # (3, 3) rad^2, rotation vector about the camera axes near the best mode
    uncertainty_deg: float  # root of the covariance's trace, in degrees
    density: np.ndarray  # (36,864,) probability per cell of SO3Grid(3)
    translation: np.ndarray | None  # (3,) metres, centre of the visible surface (needs depth + intrinsics)
    time_s: float
    # (3, 3) with a region of interest: the frame the network saw (a camera turned to the box's
    # centre) in the camera's; rotation, modes and covariance are already turned back, the
    # density's cells are not (cell R is the orientation view_rotation @ R)
    view_rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def to_json(self) -> dict:
        return {"rotation": self.rotation.tolist(), "quaternion_xyzw": _quat(self.rotation),
                "modes": [{"rotation": r.tolist(), "quaternion_xyzw": _quat(r), "mass": float(m)}
                          for r, m in zip(self.modes, self.mode_mass, strict=True)],
                "covariance_rad2": self.covariance.tolist(), "uncertainty_deg": self.uncertainty_deg,
                "translation_m": None if self.translation is None else self.translation.tolist(),
                "view_rotation": self.view_rotation.tolist(), "time_s": self.time_s}


def default_weights(kind: str = "eq") -> Path:
    from eqrobot.resources import share_file

    return share_file(f"models/pose/pose-{kind}.safetensors")


class PosePredictor:
    def __init__(self, weights: str | Path | None = None, device: str = "auto", modes: int = 5,
                 depth_window_m: float | None = None, cuda_graphs: bool = True) -> None:
        """``depth_window_m``: the translation uses only depth pixels within this distance of the
        depth at the image's centre (the object, not the table behind it); None uses them all.
        ``cuda_graphs``: on a GPU, replay the network and everything after it as one CUDA graph
        (``eqrobot.cuda_graphs``; eager if recording fails)."""
        if not 1 <= modes <= MAX_MODES:
            raise ValueError(f"modes must be between 1 and {MAX_MODES}, got {modes}")
        if depth_window_m is not None and not depth_window_m > 0:
            raise ValueError(f"depth_window_m must be positive (or None), got {depth_window_m}")
        from eqrobot.device import resolve_device
        from eqrobot.perception.pose.train import load_model

        self.device = resolve_device(device).device
        self.model, self.meta = load_model(weights or default_weights(), self.device)
        self.lmax = self.model.config.lmax
        self.grid_features = grid_features(DENSITY_LEVEL, self.lmax).to(self.device)
        # a copy: the grid's array is read-only
        self.cells = torch.tensor(SO3Grid(DENSITY_LEVEL).rotations, device=self.device)
        self.num_modes = modes
        self.depth_window_m = depth_window_m
        pipeline = DensityPipeline(self.model, self.grid_features, self.cells, modes).eval()
        self.pipeline = GraphedNetwork(pipeline) if cuda_graphs else pipeline

    @torch.no_grad()
    def coefficients(self, images: np.ndarray) -> torch.Tensor:
        """``(B, H, W, 3)`` uint8 -> ``(B, K)`` log-density coefficients."""
        return self.model(self._tensor(images))

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.array(images, dtype=np.uint8)).to(self.device).permute(0, 3, 1, 2).float() / 255
        return self.model.resize(x)  # the network's size: one shape, so one CUDA graph

    def __call__(self, rgb: np.ndarray, depth: np.ndarray | None = None, intrinsics: np.ndarray | None = None,
                 roi: tuple[float, float, float, float] | None = None) -> PoseEstimate:
        """``roi``: (x, y, width, height) of the object's box in pixels; without it the object
        must sit in the middle of the image (the centred square is used)."""
        began = time.perf_counter()
        rgb = check_image(rgb)
        crop = square_crop(rgb, depth, intrinsics) if roi is None else roi_crop(rgb, depth, intrinsics, roi)
        with torch.no_grad():
            packed = self.pipeline(self._tensor(crop.rgb[None])).cpu().numpy()  # the one copy to the host
        k, view = self.num_modes, crop.view_rotation
        modes = view @ packed[:9 * k].reshape(k, 3, 3).astype(np.float64)
        covariance = view @ packed[10 * k:10 * k + 9].reshape(3, 3).astype(np.float64) @ view.T
        translation = None if crop.depth is None or crop.intrinsics is None else \
            visible_centre(crop.depth, crop.intrinsics, self.depth_window_m)
        return PoseEstimate(modes[0], modes, packed[9 * k:10 * k], covariance,
                            float(np.degrees(np.sqrt(np.trace(covariance)))), packed[10 * k + 9:], translation,
                            time.perf_counter() - began, view)


class DensityPipeline(nn.Module):
    """One image ``(1, 3, S, S)`` at the network's size -> everything an estimate needs in one
    tensor: modes (9k), their mass (k), covariance (9), probability per cell (36,864). Tensor
    work only, nothing copied to the host on the way, so a GPU can replay it as one graph."""

    def __init__(self, model: nn.Module, features: torch.Tensor, cells: torch.Tensor, modes: int) -> None:
        super().__init__()
        self.model = model
        self.features, self.cells, self.modes = features, cells, modes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        coeffs = self.model(x)
        probability = torch.softmax((coeffs @ self.features)[0], dim=0)
        modes, mass, index = find_modes(self.cells, probability, self.modes)
        modes[0] = refine(coeffs, modes[:1], self.model.config.lmax, self.features[:, index[:1]].T)[0]
        covariance = rotation_covariance(self.cells, probability, modes[0])
        return torch.cat([modes.flatten(), mass, covariance.flatten(), probability])


def check_image(rgb: np.ndarray) -> np.ndarray:
    """The image as ``(H, W, 3)`` uint8 (an alpha channel is dropped); ``ValueError`` saying what
    is wrong otherwise."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"an RGB image must be (height, width, 3) or (height, width, 4), got shape {rgb.shape}")
    if min(rgb.shape[:2]) < 16:
        raise ValueError(f"image of {rgb.shape[1]}x{rgb.shape[0]} pixels is too small (at least 16 a side)")
    if rgb.dtype != np.uint8:
        raise ValueError(f"an RGB image must be uint8, got {rgb.dtype}")
    return rgb[..., :3]


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians) between rotations, broadcasting ``(..., 3, 3)``."""
    trace = np.einsum("...ij,...ij->...", a, b)
    return np.arccos(np.clip((trace - 1) / 2, -1.0, 1.0))


def find_modes(rotations: torch.Tensor, probability: torch.Tensor, k: int,
               separation_deg: float = MODE_SEPARATION_DEG) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Up to ``k`` local peaks of the grid's ``probability``, best first, at least
    ``separation_deg`` apart: (rotations, the mass each holds within that distance, their cell
    indices). Greedy: take the most probable cell left, clear its neighbourhood, again; fixed
    tensor work with no copy to the host (a GPU runs it without waiting)."""
    separation = math.radians(separation_deg)
    left = probability.clone()
    chosen, mass = [], []
    for _ in range(k):  # k is small (modes, not cells): each round clears a few hundred cells
        best = left.argmax()
        near = angles(rotations, rotations[best]) < separation
        chosen.append(best)
        mass.append((probability * near).sum())
        left = left.masked_fill(near, -1.0)
    index = torch.stack(chosen)
    return rotations[index].clone(), torch.stack(mass), index


def angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Geodesic angle (radians) between rotations, broadcasting ``(..., 3, 3)``."""
    trace = (a * b).sum(dim=(-1, -2))
    return torch.arccos(((trace - 1) / 2).clamp(-1.0, 1.0))


REFINE_STEPS_DEG = (4.0, 1.0, 0.25)  # three 7x7x7 searches: from a cell centre (<= 7.2 deg off) to ~0.1 deg


def refine(coeffs: torch.Tensor, start: torch.Tensor, lmax: int, start_features: torch.Tensor | None = None
           ) -> torch.Tensor:
    """The highest ``f_b`` near ``start (B, 3, 3)``: a 7x7x7 lattice of small turns T about the
    camera axes, each search centred on the last one's best at a quarter of its step.
    ``f(T S) = sum_l <C_l D_l(S)^T, D_l(T)>``, so a search is one product with the lattice's
    Wigner matrices, computed once per band limit. ``start_features (B, K)``: the starts'
    ``so3_features`` when known (grid cells: columns of ``grid_features``), saving their
    harmonics."""
    offsets, lattice = _refine_lattices(lmax, str(coeffs.device))
    dims = [2 * l + 1 for l in range(lmax + 1)]
    sizes = [d * d for d in dims]
    # float64: neighbours 0.25 deg apart differ by ~1e-4 of the sums, near float32's resolution
    weights = [c.unflatten(1, (d, d)) * math.sqrt(d) for c, d in zip(torch.split(coeffs.double(), sizes, dim=1), dims,
                                                                     strict=True)]
    if start_features is None:
        current = wigner_d(start.double(), lmax)
    else:
        current = [f.unflatten(1, (d, d)) / math.sqrt(d) for f, d in
                   zip(torch.split(start_features.double(), sizes, dim=1), dims, strict=True)]
    best = start.double()
    for turns, (flat, blocks) in zip(offsets, lattice, strict=True):
        m = torch.cat([(w @ c.transpose(-1, -2)).flatten(1) for w, c in zip(weights, current, strict=True)], dim=1)
        choice = (m @ flat.T).argmax(dim=1)
        best = turns[choice] @ best
        current = [t[choice] @ c for t, c in zip(blocks, current, strict=True)]
    return best.to(coeffs.dtype)


@lru_cache(maxsize=8)
def _refine_lattices(lmax: int, device: str) -> tuple[list[torch.Tensor], list[tuple[torch.Tensor, list]]]:
    """Per search: the lattice's turns ``(343, 3, 3)`` and their Wigner matrices, flattened
    ``(343, K)`` and per degree, float64 on ``device``."""
    steps = torch.arange(-3.0, 4.0, dtype=torch.float64)
    lattice = torch.stack(torch.meshgrid(steps, steps, steps, indexing="ij"), dim=-1).reshape(-1, 3)
    turns = [_exp(lattice * math.radians(step)) for step in REFINE_STEPS_DEG]
    blocks = [[d.to(device) for d in wigner_d(t, lmax)] for t in turns]
    return [t.to(device) for t in turns], [(torch.cat([d.flatten(1) for d in b], dim=1), b) for b in blocks]


def rotation_covariance(rotations: torch.Tensor, probability: torch.Tensor, centre: torch.Tensor,
                        radius_deg: float = COVARIANCE_RADIUS_DEG) -> torch.Tensor:
    """Second moment of the rotation vectors ``log(R centre^T)`` of the mass within ``radius_deg``."""
    centre = centre.to(rotations.dtype)
    weights = probability * (angles(rotations, centre[None]) < math.radians(radius_deg))
    weights = weights / weights.sum().clamp_min(1e-12)
    vectors = _log(rotations @ centre.T)
    return torch.einsum("n,ni,nj->ij", weights, vectors, vectors)


def visible_centre(depth: np.ndarray, intrinsics: np.ndarray, window_m: float | None = None) -> np.ndarray | None:
    """Mean of the back-projected pixels with depth (metres, camera frame); with ``window_m``
    only those within that distance of the median depth of the image's central ninth. None
    when there are none."""
    valid = np.isfinite(depth) & (depth > 0)
    if window_m is not None:
        h, w = depth.shape
        centre = depth[h // 3:h - h // 3, w // 3:w - w // 3]
        centre = centre[np.isfinite(centre) & (centre > 0)]
        if not len(centre):
            return None
        valid &= np.abs(np.nan_to_num(depth) - np.median(centre)) <= window_m
    v, u = np.nonzero(valid)
    if not len(u):
        return None
    z = depth[v, u].astype(np.float64)
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    # pixel centres are at +0.5: u indexes the pixel whose centre is u + 0.5
    points = np.stack([(u + 0.5 - cx) * z / fx, (v + 0.5 - cy) * z / fy, z], axis=1)
    return points.mean(axis=0)


def _exp(vectors: torch.Tensor) -> torch.Tensor:
    """Rotation matrices of rotation vectors (Rodrigues), ``(..., 3) -> (..., 3, 3)``."""
    angle = vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    k = vectors / angle
    kx = torch.zeros(*vectors.shape[:-1], 3, 3, dtype=vectors.dtype, device=vectors.device)
    kx[..., 0, 1], kx[..., 0, 2], kx[..., 1, 2] = -k[..., 2], k[..., 1], -k[..., 0]
    kx = kx - kx.transpose(-1, -2)
    s, c = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    return torch.eye(3, dtype=vectors.dtype, device=vectors.device) + s * kx + (1 - c) * kx @ kx


def _log(rotations: torch.Tensor) -> torch.Tensor:
    """Rotation vectors of rotations below a half turn, ``(..., 3, 3) -> (..., 3)``."""
    angle = angles(rotations, torch.eye(3, dtype=rotations.dtype, device=rotations.device))
    axis = torch.stack([rotations[..., 2, 1] - rotations[..., 1, 2], rotations[..., 0, 2] - rotations[..., 2, 0],
                        rotations[..., 1, 0] - rotations[..., 0, 1]], dim=-1)
    scale = torch.where(angle > 1e-6, angle / (2 * torch.sin(angle).clamp_min(1e-12)), torch.full_like(angle, 0.5))
    return axis * scale[..., None]


def _quat(rotation: np.ndarray) -> list[float]:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(rotation).as_quat().tolist()


__all__ = ["PoseEstimate", "PosePredictor", "check_image", "default_weights"]
