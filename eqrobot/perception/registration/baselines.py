"""Open3D's registration methods behind the same interface as ours: FPFH + RANSAC,
FGR (fast global registration) and plain ICP. Used as references in the benchmark and
selectable with ``--method``."""

from __future__ import annotations

import time

import numpy as np
import open3d as o3d

from eqrobot.perception.registration.preprocess import PreparedCloud
from eqrobot.perception.registration.refine import evaluate_alignment, icp_point_to_plane

_reg = o3d.pipelines.registration


def _feature(p: PreparedCloud) -> _reg.Feature:
    f = _reg.Feature()
    f.data = np.ascontiguousarray(p.fpfh.T)
    return f


def fpfh_ransac(src: PreparedCloud, tgt: PreparedCloud, seed: int = 0) -> tuple[np.ndarray, float]:
    """Open3D's documented global registration recipe (distance 1.5 voxels, mutual filter off,
    edge-length and distance checkers, 100k iterations, 0.999 confidence). Returns
    ``(transform, seconds)``."""
    o3d.utility.random.seed(seed)
    start = time.perf_counter()
    distance = 1.5 * src.voxel
    result = _reg.registration_ransac_based_on_feature_matching(
        src.pcd, tgt.pcd, _feature(src), _feature(tgt), False, distance,
        _reg.TransformationEstimationPointToPoint(False), 3,
        [_reg.CorrespondenceCheckerBasedOnEdgeLength(0.9), _reg.CorrespondenceCheckerBasedOnDistance(distance)],
        _reg.RANSACConvergenceCriteria(100000, 0.999))
    return np.asarray(result.transformation).copy(), time.perf_counter() - start


def fgr(src: PreparedCloud, tgt: PreparedCloud) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = _reg.registration_fgr_based_on_feature_matching(
        src.pcd, tgt.pcd, _feature(src), _feature(tgt),
        _reg.FastGlobalRegistrationOption(maximum_correspondence_distance=0.5 * src.voxel))
    return np.asarray(result.transformation).copy(), time.perf_counter() - start


def icp_only(src: PreparedCloud, tgt: PreparedCloud, init: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Point-to-plane ICP from ``init`` (identity by default) with a generous 5-voxel search."""
    start = time.perf_counter()
    T, _, _ = icp_point_to_plane(src.pcd, tgt.pcd, np.eye(4) if init is None else init, 5.0 * src.voxel, 50)
    return T, time.perf_counter() - start


__all__ = ["evaluate_alignment", "fgr", "fpfh_ransac", "icp_only"]
