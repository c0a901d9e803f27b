"""Rotations in 3-D: conversions, sampling and distances (numpy, batched).

Conventions (the ROS ones):

* Quaternions are ``(x, y, z, w)``, unit norm. ``matrix_to_quat`` returns the
  representative with ``w >= 0`` (``q`` and ``-q`` are the same rotation).
* Axis-angle is a rotation vector ``angle * unit_axis`` (angle in ``[0, pi]``).
* Euler angles are ROS roll-pitch-yaw: fixed axes X, then Y, then Z, i.e.
  ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (the same as intrinsic Z-Y'-X'').
  ``matrix_to_rpy`` returns pitch in ``[-pi/2, pi/2]``; at pitch = +-pi/2 (gimbal
  lock) roll is set to 0 and the whole turn about Z goes into yaw.

Every function takes leading batch dimensions: ``(..., 4)``, ``(..., 3, 3)``.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def _as_float(x) -> np.ndarray:
    a = np.asarray(x)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def skew(v) -> np.ndarray:
    """Cross-product matrix ``[v]_x`` so that ``skew(v) @ w == cross(v, w)``."""
    v = _as_float(v)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    o = np.zeros_like(x)
    return np.stack([o, -z, y, z, o, -x, -y, x, o], axis=-1).reshape(v.shape[:-1] + (3, 3))


def normalize_quat(q) -> np.ndarray:
    """Unit quaternion; raises on a (near) zero quaternion."""
    q = _as_float(q)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(n < 1e-9):
        raise ValueError("quaternion has zero norm and does not describe a rotation")
    return q / n


def quat_to_matrix(q) -> np.ndarray:
    """``(x, y, z, w)`` quaternion(s) -> rotation matrix(es). Normalises the input."""
    q = normalize_quat(q)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    m = np.stack(
        [
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ],
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(R) -> np.ndarray:
    """Rotation matrix(es) -> unit ``(x, y, z, w)`` quaternion(s) with ``w >= 0``.

    Uses the largest of the four candidate denominators (Shepperd's method) so the
    result is accurate for every rotation, including half turns.
    """
    R = _as_float(R)
    m = R.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=1, axis2=2)
    diag = np.stack([m[:, 0, 0], m[:, 1, 1], m[:, 2, 2], tr], axis=1)
    choice = np.argmax(diag, axis=1)
    q = np.empty((m.shape[0], 4), dtype=m.dtype)

    i = choice == 3
    s = np.sqrt(1.0 + tr[i]) * 2
    q[i] = np.stack(
        [(m[i, 2, 1] - m[i, 1, 2]) / s, (m[i, 0, 2] - m[i, 2, 0]) / s,
         (m[i, 1, 0] - m[i, 0, 1]) / s, 0.25 * s], axis=1)
    i = choice == 0
    s = np.sqrt(1.0 + m[i, 0, 0] - m[i, 1, 1] - m[i, 2, 2]) * 2
    q[i] = np.stack(
        [0.25 * s, (m[i, 0, 1] + m[i, 1, 0]) / s,
         (m[i, 0, 2] + m[i, 2, 0]) / s, (m[i, 2, 1] - m[i, 1, 2]) / s], axis=1)
    i = choice == 1
    s = np.sqrt(1.0 + m[i, 1, 1] - m[i, 0, 0] - m[i, 2, 2]) * 2
    q[i] = np.stack(
        [(m[i, 0, 1] + m[i, 1, 0]) / s, 0.25 * s,
         (m[i, 1, 2] + m[i, 2, 1]) / s, (m[i, 0, 2] - m[i, 2, 0]) / s], axis=1)
    i = choice == 2
    s = np.sqrt(1.0 + m[i, 2, 2] - m[i, 0, 0] - m[i, 1, 1]) * 2
    q[i] = np.stack(
        [(m[i, 0, 2] + m[i, 2, 0]) / s, (m[i, 1, 2] + m[i, 2, 1]) / s,
         0.25 * s, (m[i, 1, 0] - m[i, 0, 1]) / s], axis=1)

    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(q[:, 3:4] < 0, -q, q)
    return q.reshape(R.shape[:-2] + (4,))


def quat_multiply(q1, q2) -> np.ndarray:
    """Hamilton product of ``(x, y, z, w)`` quaternions: rotation ``q1`` after ``q2``."""
    q1, q2 = _as_float(q1), _as_float(q2)
    x1, y1, z1, w1 = np.moveaxis(q1, -1, 0)
    x2, y2, z2, w2 = np.moveaxis(q2, -1, 0)
    return np.stack(
        [
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        ],
        axis=-1,
    )


def axis_angle_to_matrix(rotvec) -> np.ndarray:
    """Rotation vector(s) ``angle * axis`` -> rotation matrix(es) (Rodrigues)."""
    v = _as_float(rotvec)
    theta = np.linalg.norm(v, axis=-1)[..., None, None]
    K = skew(v)
    # sin(t)/t and (1-cos(t))/t^2 with their Taylor series near zero.
    small = theta < 1e-6
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta**2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta**2 / 24.0, (1.0 - np.cos(safe)) / safe**2)
    eye = np.broadcast_to(np.eye(3, dtype=v.dtype), K.shape)
    return eye + a * K + b * (K @ K)


def matrix_to_axis_angle(R) -> np.ndarray:
    """Rotation matrix(es) -> rotation vector(s) with angle in ``[0, pi]``.

    Goes through the quaternion, which stays accurate near ``pi`` where the
    ``(R - R^T)`` formula loses the axis.
    """
    q = matrix_to_quat(R)
    return quat_to_axis_angle(q)


def quat_to_axis_angle(q) -> np.ndarray:
    q = normalize_quat(q)
    q = np.where(q[..., 3:4] < 0, -q, q)
    s = np.linalg.norm(q[..., :3], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., 3:4])
    small = s < 1e-9
    scale = np.where(small, 2.0, angle / np.where(small, 1.0, s))
    return q[..., :3] * scale


def axis_angle_to_quat(rotvec) -> np.ndarray:
    v = _as_float(rotvec)
    theta = np.linalg.norm(v, axis=-1, keepdims=True)
    small = theta < 1e-9
    k = np.where(small, 0.5, np.sin(theta / 2) / np.where(small, 1.0, theta))
    return np.concatenate([v * k, np.cos(theta / 2)], axis=-1)


def rot_x(angle) -> np.ndarray:
    a = _as_float(angle)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([i, o, o, o, c, -s, o, s, c], axis=-1).reshape(a.shape + (3, 3))


def rot_y(angle) -> np.ndarray:
    a = _as_float(angle)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([c, o, s, o, i, o, -s, o, c], axis=-1).reshape(a.shape + (3, 3))


def rot_z(angle) -> np.ndarray:
    a = _as_float(angle)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([c, -s, o, s, c, o, o, o, i], axis=-1).reshape(a.shape + (3, 3))


def rpy_to_matrix(rpy) -> np.ndarray:
    """``(..., 3)`` roll, pitch, yaw (radians) -> ``Rz(yaw) Ry(pitch) Rx(roll)``."""
    rpy = _as_float(rpy)
    return rot_z(rpy[..., 2]) @ rot_y(rpy[..., 1]) @ rot_x(rpy[..., 0])


def matrix_to_rpy(R) -> np.ndarray:
    """Rotation matrix(es) -> ``(..., 3)`` roll, pitch, yaw; see the module notes."""
    R = _as_float(R)
    sp = np.clip(-R[..., 2, 0], -1.0, 1.0)
    pitch = np.arcsin(sp)
    cp = np.sqrt(R[..., 2, 1] ** 2 + R[..., 2, 2] ** 2)
    locked = cp < 1e-9
    roll = np.where(locked, 0.0, np.arctan2(R[..., 2, 1], R[..., 2, 2]))
    yaw_free = np.arctan2(R[..., 1, 0], R[..., 0, 0])
    # At gimbal lock only yaw - roll (pitch = +90) or yaw + roll (pitch = -90) is defined.
    yaw_locked = np.arctan2(-R[..., 0, 1], R[..., 1, 1])
    yaw = np.where(locked, yaw_locked, yaw_free)
    return np.stack([roll, pitch, yaw], axis=-1)


def quat_to_rpy(q) -> np.ndarray:
    return matrix_to_rpy(quat_to_matrix(q))


def rpy_to_quat(rpy) -> np.ndarray:
    return matrix_to_quat(rpy_to_matrix(rpy))


def project_to_so3(M) -> np.ndarray:
    """Nearest rotation matrix (Frobenius) to a 3x3 matrix, via SVD."""
    M = _as_float(M)
    U, _, Vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones(M.shape[:-2] + (3,), dtype=M.dtype)
    D[..., 2] = d
    return (U * D[..., None, :]) @ Vt


def is_rotation(R, atol: float = 1e-6) -> bool:
    R = _as_float(R)
    if R.shape[-2:] != (3, 3):
        return False
    eye = np.eye(3)
    ortho = np.abs(np.swapaxes(R, -1, -2) @ R - eye).max() <= atol
    return bool(ortho and np.all(np.abs(np.linalg.det(R) - 1.0) <= atol))


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def random_quats(n: int, seed=None) -> np.ndarray:
    """``n`` quaternions uniform on SO(3) (Haar measure), ``w >= 0``."""
    q = _rng(seed).standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(q[:, 3:4] < 0, -q, q)


def random_rotations(n: int, seed=None) -> np.ndarray:
    """``(n, 3, 3)`` rotation matrices uniform on SO(3) (Haar measure)."""
    return quat_to_matrix(random_quats(n, seed))


def geodesic_distance(R1, R2) -> np.ndarray:
    """Angle (radians, in ``[0, pi]``) of the rotation ``R1^T R2``.

    Computed from the chord ``||R1 - R2||_F = 2 sqrt(2) sin(theta / 2)``, which
    stays accurate for tiny angles where ``arccos((tr - 1) / 2)`` does not.
    """
    R1, R2 = _as_float(R1), _as_float(R2)
    chord = np.linalg.norm(R1 - R2, axis=(-2, -1))
    return 2.0 * np.arcsin(np.clip(chord / (2.0 * np.sqrt(2.0)), 0.0, 1.0))


def quat_distance(q1, q2) -> np.ndarray:
    """Geodesic angle (radians) between quaternion rotations; sign-agnostic."""
    q1, q2 = normalize_quat(q1), normalize_quat(q2)
    d = np.minimum(np.linalg.norm(q1 - q2, axis=-1), np.linalg.norm(q1 + q2, axis=-1))
    return 4.0 * np.arcsin(np.clip(d / 2.0, 0.0, 1.0))


def slerp(q0, q1, alpha) -> np.ndarray:
    """Spherical linear interpolation along the shorter arc; ``alpha`` in ``[0, 1]``."""
    q0, q1 = normalize_quat(q0), normalize_quat(q1)
    alpha = _as_float(alpha)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    near = theta < 1e-6
    sin_t = np.where(near, 1.0, np.sin(theta))
    w0 = np.where(near, 1.0 - alpha, np.sin((1.0 - alpha) * theta) / sin_t)
    w1 = np.where(near, alpha, np.sin(alpha * theta) / sin_t)
    return normalize_quat(w0 * q0 + w1 * q1)
