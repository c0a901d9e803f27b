"""Scan-to-scan odometry over a sequence of clouds (a bag, a folder of scans)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from eqrobot.geometry.cloud_filter import voxel_downsample
from eqrobot.geometry.transforms import apply, compose
from eqrobot.geometry.types import PointCloud
from eqrobot.io.trajectory import write_tum
from eqrobot.progress import progress


def run_odometry(registrar, clouds: Iterable[PointCloud], trajectory_path, map_path=None) -> dict:
    """Register each scan onto the previous one and chain the transforms.

    Poses are those of each scan in the first scan's frame (TUM format). The voxel size is
    fixed by the first scan (unless the registrar has one) and each scan is prepared and
    described once. A weak registration (``converged`` false) or an unusable scan falls back
    to the previous relative motion (constant velocity) with a warning. Returns counts.
    """
    poses, stamps, merged = [], [], []
    previous, step, voxel = None, np.eye(4), None
    weak = registered = 0
    for cloud in progress(clouds, desc="odometry", unit="scan"):
        current = None
        try:
            voxel = voxel or registrar.voxel_for(cloud.points)
            current = registrar.prepare(cloud, voxel)
            ok = False
            if previous is not None:
                result = registrar.register_prepared(current, previous, init=step)
                ok = result.converged
        except ValueError as e:
            warnings.warn(f"scan at {cloud.stamp_ns} ns: {e}", stacklevel=2)
            ok = False
        if poses:
            if ok:
                step = result.transform
                registered += 1
            else:
                weak += 1
        pose = compose(poses[-1], step) if poses else np.eye(4)
        poses.append(pose)
        stamps.append(cloud.stamp_ns)
        if map_path:
            merged.append(apply(pose, cloud.points))
        previous = current
    if not poses:
        raise ValueError("no scans to register")
    write_tum(trajectory_path, np.asarray(stamps, dtype=np.int64), np.stack(poses))
    if map_path:
        _write_map(map_path, np.concatenate(merged), registrar.config.voxel)
    return {"scans": len(poses), "registered": registered, "weak": weak, "final_pose": poses[-1].tolist()}


def _write_map(path, points: np.ndarray, voxel: float | None) -> None:
    from eqrobot.io.cloud_files import write_cloud
    from eqrobot.perception.registration.preprocess import estimate_voxel_size

    v = voxel or estimate_voxel_size(points, target_points=200_000)
    write_cloud(path, voxel_downsample(PointCloud(points, frame_id="map"), v))
