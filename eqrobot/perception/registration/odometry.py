"""Scan-to-scan odometry over a sequence of clouds (a bag, a folder of scans)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from eqrobot.geometry.cloud_filter import voxel_downsample
from eqrobot.geometry.transforms import apply, compose, invert
from eqrobot.geometry.types import PointCloud
from eqrobot.io.trajectory import write_tum
from eqrobot.progress import progress


def run_odometry(registrar, clouds: Iterable[PointCloud], trajectory_path, map_path=None) -> dict:
    """Register each scan onto the last scan that registered (the anchor) and chain the transforms.

    Poses are those of each scan in the first scan's frame (TUM format). The voxel size is
    fixed by the first scan (unless the registrar has one) and each scan is prepared and
    described once. A weak registration (``converged`` false) or an unusable scan gets the
    pose predicted from the previous motion (constant velocity), with a warning for the
    unusable one, and does not become the anchor: the next scan is registered against the
    last trusted one, from the predicted pose, like ``registration_node``. Returns counts.
    """
    poses, stamps, merged = [], [], []
    anchor, step, voxel = None, np.eye(4), None  # anchor: (prepared cloud, pose) of the last trusted scan
    weak = registered = 0
    for cloud in progress(clouds, desc="odometry", unit="scan"):
        predicted = compose(poses[-1], step) if poses else np.eye(4)
        pose, trusted = predicted, not poses
        try:
            voxel = voxel or registrar.voxel_for(cloud.points)
            current = registrar.prepare(cloud, voxel)
            if anchor is not None:
                anchor_cloud, anchor_pose = anchor
                result = registrar.register_prepared(current, anchor_cloud, init=invert(anchor_pose) @ predicted)
                if result.converged:
                    pose, trusted = anchor_pose @ result.transform, True
            if trusted or anchor is None:  # with no trusted scan yet, the first usable one anchors
                anchor = (current, pose)
        except ValueError as e:
            warnings.warn(f"scan at {cloud.stamp_ns} ns: {e}", stacklevel=2)
            trusted = False
        if poses:
            registered += trusted
            weak += not trusted
            step = invert(poses[-1]) @ pose
        poses.append(pose)
        stamps.append(cloud.stamp_ns)
        if map_path:
            merged.append(apply(pose, cloud.points))
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
