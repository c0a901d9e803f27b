"""Local refinement (Open3D point-to-plane ICP) and the alignment quality measures."""

from __future__ import annotations

import numpy as np
import open3d as o3d
from scipy.spatial import cKDTree

from eqrobot.geometry.transforms import apply

_reg = o3d.pipelines.registration


def icp_point_to_plane(source: o3d.geometry.PointCloud, target: o3d.geometry.PointCloud, init: np.ndarray,
                       max_distance: float, iterations: int = 30) -> tuple[np.ndarray, float, float]:
    """``(transform, fitness, inlier_rmse)``; the target must have normals."""
    result = _reg.registration_icp(
        source, target, max_distance, np.asarray(init, dtype=np.float64),
        _reg.TransformationEstimationPointToPlane(),
        _reg.ICPConvergenceCriteria(max_iteration=iterations))
    return np.asarray(result.transformation).copy(), float(result.fitness), float(result.inlier_rmse)


def evaluate_alignment(source: o3d.geometry.PointCloud, target: o3d.geometry.PointCloud, T: np.ndarray,
                       max_distance: float) -> tuple[float, float]:
    """``(fitness, inlier_rmse)`` of a transform without changing it."""
    r = _reg.evaluate_registration(source, target, max_distance, np.asarray(T, dtype=np.float64))
    return float(r.fitness), float(r.inlier_rmse)


def surface_fitness(source_points: np.ndarray, source_normals: np.ndarray, target_points: np.ndarray,
                    target_normals: np.ndarray, transforms: np.ndarray, max_distance: float,
                    min_cos: float = 0.7, n_points: int = 300) -> np.ndarray:
    """For each transform, the share of (a fixed subsample of ``n_points``) source points that
    land within ``max_distance`` of a target point whose normal agrees with theirs
    (|cos| > ``min_cos``; normal signs are ignored). One KD-tree query for all transforms.

    A wrong pose often brings points near the other surface but crossing it; requiring the
    normals to agree tells those apart."""
    keep = np.random.default_rng(0).choice(len(source_points), min(n_points, len(source_points)), replace=False)
    pts, nrm = source_points[np.sort(keep)], source_normals[np.sort(keep)]
    R, t = transforms[:, :3, :3], transforms[:, :3, 3]
    moved = np.einsum("bij,nj->bni", R, pts) + t[:, None]
    d, j = cKDTree(target_points).query(moved.reshape(-1, 3), distance_upper_bound=max_distance, workers=-1)
    near = np.isfinite(d).reshape(len(transforms), -1)
    j = np.where(near, j.reshape(near.shape), 0)
    agree = np.abs(np.einsum("bij,nj,bni->bn", R, nrm, target_normals[j])) > min_cos
    return (near & agree).mean(1)


def plane_rmse(source_points: np.ndarray, target_points: np.ndarray, target_normals: np.ndarray,
               normal_ok: np.ndarray, T: np.ndarray, max_distance: float) -> float:
    """RMS distance, along the target's normal, of the source points that have a target point
    within ``max_distance`` (only well-defined normals count); inf when there are none.

    Unlike the point-to-point RMSE it does not grow when two scans sample the surface at
    different places: only leaving the surface counts."""
    moved = apply(T, source_points)
    d, j = cKDTree(target_points).query(moved, distance_upper_bound=max_distance, workers=-1)
    hit = np.isfinite(d)
    hit[hit] &= normal_ok[j[hit]]
    if not hit.any():
        return float("inf")
    off = np.einsum("ni,ni->n", moved[hit] - target_points[j[hit]], target_normals[j[hit]])
    return float(np.sqrt(np.mean(off**2)))
