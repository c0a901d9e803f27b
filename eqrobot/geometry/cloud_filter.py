"""Point-cloud clean-up before any model sees it: drop invalid points, crop, range-gate,
voxel-average. Runs in torch on the chosen device (CUDA or CPU)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from eqrobot.geometry.types import PointCloud


@dataclass
class CloudFilterConfig:
    """``voxel_size`` 0 keeps every point; ``max_range`` 0 means no limit; the crop box
    applies when ``crop_enabled``. Clouds left with fewer than ``min_points`` are rejected."""

    voxel_size: float = 0.0
    min_range: float = 0.0
    max_range: float = 0.0
    crop_enabled: bool = False
    crop_min: tuple[float, float, float] = (-1.0, -1.0, -1.0)
    crop_max: tuple[float, float, float] = (1.0, 1.0, 1.0)
    min_points: int = 10

    def __post_init__(self) -> None:
        if self.voxel_size < 0 or self.min_range < 0 or self.max_range < 0:
            raise ValueError("voxel_size, min_range and max_range must be >= 0")
        if self.max_range and self.max_range <= self.min_range:
            raise ValueError(f"max_range {self.max_range} must exceed min_range {self.min_range}")
        if self.crop_enabled and np.any(np.asarray(self.crop_min) >= np.asarray(self.crop_max)):
            raise ValueError(
                f"crop_min {list(self.crop_min)} must be below crop_max {list(self.crop_max)} on every axis")


def voxel_downsample(cloud: PointCloud, voxel_size: float, device: str = "cpu") -> PointCloud:
    """One point per occupied voxel: the mean of its points (and of their colours,
    intensities and normals; averaged normals are re-normalised)."""
    if voxel_size <= 0 or len(cloud) == 0:
        return cloud
    pts = torch.as_tensor(cloud.points, dtype=torch.float64, device=device)
    keys = torch.floor((pts - pts.min(dim=0).values) / voxel_size).to(torch.int64)
    _, inverse, counts = torch.unique(keys, dim=0, return_inverse=True, return_counts=True)
    n = counts.numel()

    def mean(values: np.ndarray | None) -> np.ndarray | None:
        if values is None:
            return None
        v = torch.as_tensor(np.asarray(values, dtype=np.float64), device=device)
        flat = v.reshape(len(v), -1)
        out = torch.zeros((n, flat.shape[1]), dtype=flat.dtype, device=device)
        out.index_add_(0, inverse, flat)
        out /= counts[:, None]
        return out.reshape((n,) + tuple(v.shape[1:])).cpu().numpy()

    normals = mean(cloud.normals)
    if normals is not None:
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    colors = mean(cloud.colors)
    intensity = mean(cloud.intensity)
    return PointCloud(
        mean(cloud.points), cloud.frame_id, cloud.stamp_ns,
        colors=None if colors is None else np.clip(np.rint(colors), 0, 255).astype(np.uint8),
        normals=normals,
        intensity=None if intensity is None else intensity.astype(np.float32),
    )


def filter_cloud(cloud: PointCloud, config: CloudFilterConfig, device: str = "cpu") -> PointCloud:
    """Finite points, then range gate and crop box, then voxel averaging.

    Raises ``ValueError`` when fewer than ``config.min_points`` remain.
    """
    p = cloud.points
    keep = np.isfinite(p).all(axis=1)
    if config.min_range or config.max_range:
        r = np.linalg.norm(np.where(keep[:, None], p, 0.0), axis=1)
        keep &= r >= config.min_range
        if config.max_range:
            keep &= r <= config.max_range
    if config.crop_enabled:
        keep &= np.all((p >= np.asarray(config.crop_min)) & (p <= np.asarray(config.crop_max)), axis=1)
    out = voxel_downsample(cloud.select(keep), config.voxel_size, device)
    if len(out) < config.min_points:
        raise ValueError(
            f"{len(out)} points left after filtering ({len(cloud)} in, {int(keep.sum())} valid and in range), "
            f"need at least {config.min_points}")
    return out
