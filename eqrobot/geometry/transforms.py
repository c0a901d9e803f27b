"""Rigid transforms as homogeneous matrices: SE(3) is 4x4, SE(2) is 3x3.

``T_a_b`` maps points given in frame ``b`` into frame ``a``: ``p_a = T_a_b @ p_b``.
``compose(T_a_b, T_b_c) == T_a_c``. All functions accept leading batch dimensions.
"""

from __future__ import annotations

import numpy as np

from eqrobot.geometry.rotations import (
    _as_float,
    _rng,
    geodesic_distance,
    matrix_to_quat,
    quat_to_matrix,
    random_rotations,
    slerp,
)


def make_transform(rotation=None, translation=None) -> np.ndarray:
    """4x4 (or batched) transform from a 3x3 rotation and a 3-vector."""
    R = np.eye(3) if rotation is None else _as_float(rotation)
    t = np.zeros(3) if translation is None else _as_float(translation)
    batch = np.broadcast_shapes(R.shape[:-2], t.shape[:-1])
    T = np.zeros(batch + (4, 4), dtype=np.result_type(R, t))
    T[..., :3, :3] = R
    T[..., :3, 3] = t
    T[..., 3, 3] = 1.0
    return T


def transform_from_quat(quat, translation=None) -> np.ndarray:
    """4x4 transform from an ``(x, y, z, w)`` quaternion and a translation."""
    return make_transform(quat_to_matrix(quat), translation)


def transform_to_quat(T) -> tuple[np.ndarray, np.ndarray]:
    """4x4 transform -> ``(translation (..., 3), quaternion xyzw (..., 4))``."""
    T = _as_float(T)
    return T[..., :3, 3].copy(), matrix_to_quat(T[..., :3, :3])


def check_transform(T, dim: int = 3, atol: float = 1e-5, name: str = "transform") -> np.ndarray:
    """Return ``T`` as float array or raise ``ValueError`` saying what is wrong with it."""
    T = _as_float(T)
    n = dim + 1
    if T.shape[-2:] != (n, n):
        raise ValueError(f"{name}: expected shape (..., {n}, {n}), got {T.shape}")
    if not np.all(np.isfinite(T)):
        raise ValueError(f"{name}: contains NaN or Inf")
    bottom = np.zeros(n)
    bottom[-1] = 1.0
    if np.abs(T[..., dim, :] - bottom).max() > atol:
        raise ValueError(f"{name}: last row must be {bottom.tolist()}")
    R = T[..., :dim, :dim]
    err = np.abs(np.swapaxes(R, -1, -2) @ R - np.eye(dim)).max()
    if err > atol or np.any(np.linalg.det(R) < 0):
        raise ValueError(f"{name}: rotation block is not a proper rotation (orthogonality error {err:.2e})")
    return T


def compose(*transforms) -> np.ndarray:
    """Product left to right: ``compose(A, B, C) = A @ B @ C``."""
    if not transforms:
        raise ValueError("compose needs at least one transform")
    out = _as_float(transforms[0])
    for T in transforms[1:]:
        out = out @ _as_float(T)
    return out


def invert(T) -> np.ndarray:
    """Inverse of a rigid transform (SE(2) or SE(3)) in closed form."""
    T = _as_float(T)
    d = T.shape[-1] - 1
    R = T[..., :d, :d]
    t = T[..., :d, d]
    out = np.zeros_like(T)
    Rt = np.swapaxes(R, -1, -2)
    out[..., :d, :d] = Rt
    out[..., :d, d] = -(Rt @ t[..., None])[..., 0]
    out[..., d, d] = 1.0
    return out


def apply(T, points) -> np.ndarray:
    """Apply a transform to points ``(N, d)`` (or ``(..., N, d)`` with batched ``T``)."""
    T = _as_float(T)
    p = _as_float(points)
    d = T.shape[-1] - 1
    if p.shape[-1] != d:
        raise ValueError(f"points must have {d} coordinates per row, got shape {p.shape}")
    R = T[..., :d, :d]
    t = T[..., :d, d]
    return p @ np.swapaxes(R, -1, -2) + t[..., None, :]


def apply_rotation(T, vectors) -> np.ndarray:
    """Rotate direction vectors (normals) by the rotation part of ``T``."""
    T = _as_float(T)
    d = T.shape[-1] - 1
    return _as_float(vectors) @ np.swapaxes(T[..., :d, :d], -1, -2)


def interpolate(T0, T1, alpha) -> np.ndarray:
    """Pose between ``T0`` (alpha 0) and ``T1`` (alpha 1): slerp rotation, lerp translation."""
    T0, T1 = _as_float(T0), _as_float(T1)
    alpha = _as_float(alpha)
    t0, q0 = transform_to_quat(T0)
    t1, q1 = transform_to_quat(T1)
    q = slerp(q0, q1, alpha)
    t = (1.0 - alpha)[..., None] * t0 + alpha[..., None] * t1
    return transform_from_quat(q, t)


def random_transforms(n: int, max_translation: float = 1.0, seed=None) -> np.ndarray:
    """``(n, 4, 4)`` transforms: uniform rotation, translation uniform in a cube."""
    rng = _rng(seed)
    R = random_rotations(n, rng)
    t = rng.uniform(-max_translation, max_translation, size=(n, 3))
    return make_transform(R, t)


def rotation_error(T1, T2) -> np.ndarray:
    """Geodesic angle (radians) between the rotation parts of two transforms."""
    T1, T2 = _as_float(T1), _as_float(T2)
    return geodesic_distance(T1[..., :3, :3], T2[..., :3, :3])


def translation_error(T1, T2) -> np.ndarray:
    """Euclidean distance between the translation parts of two transforms."""
    T1, T2 = _as_float(T1), _as_float(T2)
    d = T1.shape[-1] - 1
    return np.linalg.norm(T1[..., :d, d] - T2[..., :d, d], axis=-1)


# --- SE(2) -------------------------------------------------------------------


def se2(x, y, theta) -> np.ndarray:
    """3x3 planar transform (batched over broadcastable arguments)."""
    x, y, theta = np.broadcast_arrays(_as_float(x), _as_float(y), _as_float(theta))
    c, s = np.cos(theta), np.sin(theta)
    T = np.zeros(x.shape + (3, 3))
    T[..., 0, 0], T[..., 0, 1], T[..., 0, 2] = c, -s, x
    T[..., 1, 0], T[..., 1, 1], T[..., 1, 2] = s, c, y
    T[..., 2, 2] = 1.0
    return T


def se2_params(T) -> np.ndarray:
    """3x3 planar transform -> ``(..., 3)`` array of ``x, y, theta`` (theta in (-pi, pi])."""
    T = _as_float(T)
    return np.stack([T[..., 0, 2], T[..., 1, 2], np.arctan2(T[..., 1, 0], T[..., 0, 0])], axis=-1)


def se2_to_se3(T, z=0.0) -> np.ndarray:
    """Lift a planar transform to SE(3): rotation about Z, translation at height ``z``."""
    T = _as_float(T)
    out = np.zeros(T.shape[:-2] + (4, 4))
    out[..., :2, :2] = T[..., :2, :2]
    out[..., :2, 3] = T[..., :2, 2]
    out[..., 2, 2] = 1.0
    out[..., 2, 3] = z
    out[..., 3, 3] = 1.0
    return out


def se3_to_se2(T) -> np.ndarray:
    """Project an SE(3) transform onto the plane: keep x, y and the yaw of the X axis."""
    T = _as_float(T)
    yaw = np.arctan2(T[..., 1, 0], T[..., 0, 0])
    return se2(T[..., 0, 3], T[..., 1, 3], yaw)


def wrap_angle(a) -> np.ndarray:
    """Wrap angles to ``(-pi, pi]``."""
    a = _as_float(a)
    w = np.mod(a + np.pi, 2 * np.pi) - np.pi
    return np.where(w == -np.pi, np.pi, w)
