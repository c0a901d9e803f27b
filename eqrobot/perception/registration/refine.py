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


def fitness_scores(source_points: np.ndarray, target_points: np.ndarray, transforms, max_distance: float
                   ) -> np.ndarray:
    """Fitness (share of source points with a target point within ``max_distance``) of each
    transform, with one KD-tree of the target for all of them."""
    tree = cKDTree(target_points)
    return np.array([np.mean(np.isfinite(tree.query(apply(T, source_points), distance_upper_bound=max_distance)[0]))
                     for T in transforms])
