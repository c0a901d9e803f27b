"""Local refinement (Open3D point-to-plane ICP) and the alignment quality measures."""

from __future__ import annotations

import numpy as np
import open3d as o3d

from eqrobot.geometry.rotations import axis_angle_to_matrix
from eqrobot.geometry.transforms import apply
from eqrobot.perception.registration.nearest import RadiusIndex

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


def surface_fit(points: np.ndarray, normals: np.ndarray, transforms: np.ndarray, target: RadiusIndex,
                target_normals: np.ndarray, max_distance: float, min_cos: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """For each transform ``(B, 4, 4)``: the share of ``points`` that land within
    ``max_distance`` of a target point whose normal agrees with theirs (|cos| > ``min_cos``;
    normal signs are ignored), and the RMS distance of those points along the target normals.
    ``target`` holds the target points. One query for all transforms.

    A wrong pose often brings points near the other surface but crossing it; requiring the
    normals to agree tells those apart."""
    moved = _moved(transforms, points)
    near, j = _nearest(target, moved, max_distance)
    n = target_normals[j]
    on = near & (np.abs((_moved(transforms, normals, rotate_only=True) * n).sum(-1)) > min_cos)
    off = ((moved - target.data[j]) * n).sum(-1)
    rms = np.sqrt((off**2 * on).sum(1) / np.maximum(on.sum(1), 1))
    return on.mean(1), rms


def refine_poses(points: np.ndarray, transforms: np.ndarray, target: RadiusIndex, target_normals: np.ndarray,
                 target_normal_ok: np.ndarray, max_distance: float, iterations: int = 8) -> np.ndarray:
    """Point-to-plane ICP of many poses ``(B, 4, 4)`` at once on a few ``points``: Gauss-Newton
    steps on the linearised distances along the target normals (ill-defined normals left out).

    Meant for screening poses before one full-resolution ICP: the right pose of a hypothesis
    fitted to a few noisy matches is often a few degrees off, so comparing unrefined poses
    favours whichever happens to be closest, not the one that fits."""
    T = np.array(transforms, dtype=np.float64)
    for _ in range(iterations):
        moved = _moved(T, points)
        near, j = _nearest(target, moved, max_distance)
        use = (near & target_normal_ok[j])[..., None]
        n = target_normals[j]
        residual = ((moved - target.data[j]) * n).sum(-1, keepdims=True) * use
        J = np.concatenate([np.cross(moved, n), n], axis=-1) * use
        Jt = np.swapaxes(J, 1, 2)
        step = -np.linalg.solve(Jt @ J + 1e-9 * np.eye(6), Jt @ residual)[..., 0]
        dR = axis_angle_to_matrix(step[:, :3])
        T[:, :3, :3] = dR @ T[:, :3, :3]
        T[:, :3, 3] = (dR @ T[:, :3, 3, None])[..., 0] + step[:, 3:]
    return T


def _moved(transforms: np.ndarray, points: np.ndarray, rotate_only: bool = False) -> np.ndarray:
    """``(B, N, 3)``: the ``(N, 3)`` points under each of ``B`` transforms (one matrix product each)."""
    rotated = points @ np.swapaxes(transforms[:, :3, :3], 1, 2)
    return rotated if rotate_only else rotated + transforms[:, None, :3, 3]


def _nearest(target: RadiusIndex, moved: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """``(found (B, N), index (B, N))`` of each moved point's nearest target point within
    ``max_distance``; index 0 where none is found."""
    near, j = target.nearest_within(moved, max_distance)
    return near.reshape(moved.shape[:2]), j.reshape(moved.shape[:2])


def plane_rmse(source_points: np.ndarray, target: RadiusIndex, target_normals: np.ndarray,
               normal_ok: np.ndarray, T: np.ndarray, max_distance: float) -> float:
    """RMS distance, along the target's normal, of the source points that have a target point
    within ``max_distance`` (only well-defined normals count); inf when there are none.

    Unlike the point-to-point RMSE it does not grow when two scans sample the surface at
    different places: only leaving the surface counts."""
    moved = apply(T, source_points)
    hit, j = target.nearest_within(moved, max_distance)
    hit &= normal_ok[j]
    if not hit.any():
        return float("inf")
    off = np.einsum("ni,ni->n", moved[hit] - target.data[j[hit]], target_normals[j[hit]])
    return float(np.sqrt(np.mean(off**2)))
