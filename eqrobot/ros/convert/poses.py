"""geometry_msgs poses/transforms and nav_msgs/Path <-> 4x4 matrices and arrays."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import (
    Point,
    Pose,
    PoseArray,
    PoseStamped,
    Quaternion,
    Transform,
    TransformStamped,
    Vector3,
)
from nav_msgs.msg import Path

from eqrobot.geometry.transforms import transform_from_quat, transform_to_quat
from eqrobot.ros.convert.errors import MessageError
from eqrobot.ros.convert.header import make_header


def _quat_xyzw(q, msg_type: str) -> np.ndarray:
    v = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    n = np.linalg.norm(v)
    if not np.isfinite(v).all() or n < 1e-6:
        raise MessageError(msg_type, "orientation", f"not a valid quaternion: {v.tolist()}")
    return v / n


def _check_finite(v: np.ndarray, msg_type: str, field: str) -> np.ndarray:
    if not np.isfinite(v).all():
        raise MessageError(msg_type, field, f"contains NaN or Inf: {v.tolist()}")
    return v


def pose_to_matrix(pose: Pose) -> np.ndarray:
    t = _check_finite(np.array([pose.position.x, pose.position.y, pose.position.z]), "Pose", "position")
    return transform_from_quat(_quat_xyzw(pose.orientation, "Pose"), t)


def matrix_to_pose(T) -> Pose:
    t, q = transform_to_quat(np.asarray(T, dtype=np.float64))
    return Pose(
        position=Point(x=float(t[0]), y=float(t[1]), z=float(t[2])),
        orientation=Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])),
    )


def pose_stamped_to_matrix(msg: PoseStamped) -> np.ndarray:
    return pose_to_matrix(msg.pose)


def matrix_to_pose_stamped(T, frame_id: str = "", stamp=None) -> PoseStamped:
    return PoseStamped(header=make_header(frame_id, stamp=stamp), pose=matrix_to_pose(T))


def transform_to_matrix(tf: Transform) -> np.ndarray:
    t = _check_finite(np.array([tf.translation.x, tf.translation.y, tf.translation.z]), "Transform", "translation")
    return transform_from_quat(_quat_xyzw(tf.rotation, "Transform"), t)


def matrix_to_transform(T) -> Transform:
    t, q = transform_to_quat(np.asarray(T, dtype=np.float64))
    return Transform(
        translation=Vector3(x=float(t[0]), y=float(t[1]), z=float(t[2])),
        rotation=Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])),
    )


def transform_stamped_to_matrix(msg: TransformStamped) -> np.ndarray:
    return transform_to_matrix(msg.transform)


def matrix_to_transform_stamped(T, frame_id: str, child_frame_id: str, stamp=None) -> TransformStamped:
    """``T`` maps points in ``child_frame_id`` into ``frame_id`` (the tf convention)."""
    return TransformStamped(
        header=make_header(frame_id, stamp=stamp), child_frame_id=child_frame_id,
        transform=matrix_to_transform(T),
    )


def pose_array_to_matrices(msg: PoseArray) -> np.ndarray:
    """``(N, 4, 4)``."""
    return np.stack([pose_to_matrix(p) for p in msg.poses]) if msg.poses else np.zeros((0, 4, 4))


def matrices_to_pose_array(Ts, frame_id: str = "", stamp=None) -> PoseArray:
    return PoseArray(header=make_header(frame_id, stamp=stamp), poses=[matrix_to_pose(T) for T in np.asarray(Ts)])


def path_to_array(msg: Path, with_orientation: bool = False) -> np.ndarray:
    """``(N, 3)`` positions, or ``(N, 7)`` ``x y z qx qy qz qw`` with ``with_orientation``."""
    cols = 7 if with_orientation else 3
    out = np.zeros((len(msg.poses), cols))
    for i, ps in enumerate(msg.poses):
        p, q = ps.pose.position, ps.pose.orientation
        out[i, :3] = (p.x, p.y, p.z)
        if with_orientation:
            out[i, 3:] = _quat_xyzw(q, "Path")
    return _check_finite(out, "Path", "poses")


def array_to_path(points, frame_id: str = "map", stamp=None) -> Path:
    """Path from ``(N, 2)``, ``(N, 3)`` or ``(N, 7)`` rows.

    Without orientations each pose faces along the path (yaw towards the next point).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] not in (2, 3, 7):
        raise ValueError(f"array_to_path: expected (N, 2), (N, 3) or (N, 7), got {pts.shape}")
    if pts.shape[1] == 2:
        pts = np.concatenate([pts, np.zeros((len(pts), 1))], axis=1)
    if pts.shape[1] == 3:
        pts = np.concatenate([pts, _headings_as_quats(pts)], axis=1)
    header = make_header(frame_id, stamp=stamp)
    poses = []
    for row in pts:
        pose = Pose(
            position=Point(x=row[0], y=row[1], z=row[2]),
            orientation=Quaternion(x=row[3], y=row[4], z=row[5], w=row[6]),
        )
        poses.append(PoseStamped(header=header, pose=pose))
    return Path(header=header, poses=poses)


def _headings_as_quats(xyz: np.ndarray) -> np.ndarray:
    if len(xyz) < 2:
        return np.tile([0.0, 0.0, 0.0, 1.0], (len(xyz), 1))
    d = np.diff(xyz[:, :2], axis=0)
    yaw = np.arctan2(d[:, 1], d[:, 0])
    yaw = np.append(yaw, yaw[-1])
    return np.stack([np.zeros_like(yaw), np.zeros_like(yaw), np.sin(yaw / 2), np.cos(yaw / 2)], axis=1)
