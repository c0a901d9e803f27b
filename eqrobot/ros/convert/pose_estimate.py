"""An orientation estimate (rotation matrices, their probability mass, a rotation covariance,
an optional position) -> geometry_msgs and visualization_msgs, and back for tests and tools.

Rotations are 3x3 matrices in the message's frame. A covariance follows
geometry_msgs/PoseWithCovariance: 6x6 row-major over (x, y, z, rotation about X, about Y,
about Z), the rotations about the fixed axes of the header's frame (a rotation vector ``w``
with ``R = exp(w) @ R_estimate``).
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, PoseArray, PoseWithCovarianceStamped
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from eqrobot.ros.convert.errors import MessageError
from eqrobot.ros.convert.header import make_header
from eqrobot.ros.convert.poses import matrices_to_pose_array, matrix_to_pose, pose_to_matrix

UNKNOWN_POSITION_VARIANCE = 1e6  # m^2 on the position diagonal when there is no position
AXIS_COLORS = ((0.9, 0.1, 0.1), (0.1, 0.8, 0.1), (0.1, 0.3, 0.9))  # x red, y green, z blue (RViz's axes)
OTHER_MODE_ALPHA = 0.4  # the best mode is opaque


def _transform(rotation, position) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
    if position is not None:
        T[:3, 3] = np.asarray(position, dtype=np.float64).reshape(3)
    return T


def pose_covariance(rotation_covariance, position_variance: float | None) -> np.ndarray:
    """6x6 covariance: ``position_variance`` (m^2) on the position diagonal
    (``UNKNOWN_POSITION_VARIANCE`` when None), ``rotation_covariance`` (3x3, rad^2) as the
    rotation block, no cross terms."""
    rot = np.asarray(rotation_covariance, dtype=np.float64)
    if rot.shape != (3, 3) or not np.isfinite(rot).all():
        raise ValueError(f"pose_covariance: rotation covariance must be a finite 3x3 array, got {rot.tolist()}")
    variance = UNKNOWN_POSITION_VARIANCE if position_variance is None else float(position_variance)
    cov = np.zeros((6, 6))
    cov[:3, :3] = np.eye(3) * variance
    cov[3:, 3:] = (rot + rot.T) / 2
    return cov


def estimate_to_pose_with_covariance(rotation, position, rotation_covariance, position_variance: float,
                                     frame_id: str = "", stamp=None) -> PoseWithCovarianceStamped:
    """The estimate as a PoseWithCovarianceStamped. ``position`` None: position zeros and
    ``UNKNOWN_POSITION_VARIANCE`` on its diagonal (``position_variance`` applies to a known one)."""
    msg = PoseWithCovarianceStamped(header=make_header(frame_id, stamp=stamp))
    msg.pose.pose = matrix_to_pose(_transform(rotation, position))
    variance = None if position is None else position_variance
    msg.pose.covariance = pose_covariance(rotation_covariance, variance).ravel().tolist()
    return msg


def pose_with_covariance_to_arrays(msg: PoseWithCovarianceStamped) -> tuple[np.ndarray, np.ndarray]:
    """``(4x4 pose, 6x6 covariance)`` of a PoseWithCovarianceStamped."""
    cov = np.asarray(msg.pose.covariance, dtype=np.float64)
    if cov.size != 36:
        raise MessageError("PoseWithCovariance", "covariance", f"expected 36 values, got {cov.size}")
    return pose_to_matrix(msg.pose.pose), cov.reshape(6, 6)


def modes_to_pose_array(rotations, position, frame_id: str = "", stamp=None) -> PoseArray:
    """One pose per rotation ``(K, 3, 3)``, all at ``position`` (zeros when None)."""
    rotations = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
    return matrices_to_pose_array([_transform(R, position) for R in rotations], frame_id, stamp)


def mode_markers(rotations, mass, position, length: float, frame_id: str = "", stamp=None,
                 ns: str = "pose/modes") -> MarkerArray:
    """A DELETEALL of ``ns`` (fewer modes than last time leave no stale arrows), then three
    ARROW markers per mode (id ``3 i + axis``): the rotated object's x, y, z axes in red, green,
    blue from ``position`` (the origin when None). Arrow lengths are ``length`` (m) times the
    mode's mass over the largest mass; the best mode (the first) is opaque, the others faint."""
    rotations = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
    mass = np.asarray(mass, dtype=np.float64).reshape(-1)
    if len(mass) != len(rotations):
        raise ValueError(f"mode_markers: {len(rotations)} rotations but {len(mass)} masses")
    origin = np.zeros(3) if position is None else np.asarray(position, dtype=np.float64).reshape(3)
    header = make_header(frame_id, stamp=stamp)
    markers = [Marker(header=header, ns=ns, id=0, action=Marker.DELETEALL)]
    largest = mass.max() if len(mass) and mass.max() > 0 else 1.0
    for i, (R, m) in enumerate(zip(rotations, mass, strict=True)):
        scaled = length * max(m / largest, 0.05)  # a mode with no mass still shows
        for axis, rgb in enumerate(AXIS_COLORS):
            marker = Marker(header=header, ns=ns, id=3 * i + axis, type=Marker.ARROW, action=Marker.ADD,
                            color=ColorRGBA(r=rgb[0], g=rgb[1], b=rgb[2], a=1.0 if i == 0 else OTHER_MODE_ALPHA))
            marker.pose.orientation.w = 1.0  # the points are in the header's frame
            tip = origin + scaled * R[:, axis]
            marker.points = [Point(x=float(origin[0]), y=float(origin[1]), z=float(origin[2])),
                             Point(x=float(tip[0]), y=float(tip[1]), z=float(tip[2]))]
            marker.scale.x, marker.scale.y, marker.scale.z = 0.05 * scaled, 0.1 * scaled, 0.2 * scaled
            markers.append(marker)
    return MarkerArray(markers=markers)


__all__ = ["UNKNOWN_POSITION_VARIANCE", "estimate_to_pose_with_covariance", "mode_markers",
           "modes_to_pose_array", "pose_covariance", "pose_with_covariance_to_arrays"]
