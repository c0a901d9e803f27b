"""The square the pose network sees: the image's centred square, or a square around a region
of interest (a detector's box) with the estimate turned back into the camera's frame.

A square cut around an off-centre box is what a camera turned towards the box would see (to
first order: a plain cut is not the perspective warp, which matters only far off the axis). The
network's answer is the orientation in that turned camera's frame; ``view_rotation`` is the
turn, so the orientation in the real camera's frame is ``view_rotation @ R``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Crop:
    rgb: np.ndarray  # (s, s, 3) uint8
    depth: np.ndarray | None  # (s, s) metres, 0 outside the image
    intrinsics: np.ndarray | None  # 3x3, pixels of the cut (None when not given)
    view_rotation: np.ndarray  # 3x3: the turned camera's frame in the real one (identity when centred)


def square_crop(rgb: np.ndarray, depth: np.ndarray | None, intrinsics: np.ndarray | None) -> Crop:
    """The centred square of the image, the depth cut the same way and the intrinsics moved with it."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    return _cut(rgb, _checked_depth(depth, rgb), intrinsics, (h - s) // 2, (w - s) // 2, s, turn=False)


def roi_crop(rgb: np.ndarray, depth: np.ndarray | None, intrinsics: np.ndarray | None,
             roi: tuple[float, float, float, float]) -> Crop:
    """The square around ``roi = (x, y, width, height)`` (pixels, x to the right, y down, from
    the top-left corner): centred on the box, as wide as its longer side; what lies outside the
    image is filled with the nearest edge pixel (depth: no reading). With intrinsics, also the
    turn from the camera to a camera looking at the box's centre."""
    h, w = rgb.shape[:2]
    x, y, bw, bh = (float(v) for v in roi)
    if not (bw > 0 and bh > 0 and all(math.isfinite(v) for v in (x, y, bw, bh))):
        raise ValueError(f"roi must be (x, y, width, height) with a positive width and height, got {roi}")
    if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
        raise ValueError(f"roi {roi} lies outside the {w}x{h} image")
    s = max(16, int(round(max(bw, bh))))
    top, left = int(round(y + bh / 2 - s / 2)), int(round(x + bw / 2 - s / 2))
    return _cut(rgb, _checked_depth(depth, rgb), intrinsics, top, left, s, turn=True)


def _cut(rgb: np.ndarray, depth: np.ndarray | None, intrinsics: np.ndarray | None, top: int, left: int, s: int,
         turn: bool) -> Crop:
    h, w = rgb.shape[:2]
    pad = ((max(0, -top), max(0, top + s - h)), (max(0, -left), max(0, left + s - w)))
    rows, cols = slice(top + pad[0][0], top + pad[0][0] + s), slice(left + pad[1][0], left + pad[1][0] + s)
    rgb = np.pad(rgb, (*pad, (0, 0)), mode="edge")[rows, cols]
    if depth is not None:
        depth = np.pad(depth, pad, constant_values=0.0)[rows, cols]
    view = np.eye(3)
    if intrinsics is not None:
        intrinsics = np.array(intrinsics, dtype=np.float64).reshape(3, 3)
        if turn:
            centre = np.linalg.solve(intrinsics, [left + s / 2, top + s / 2, 1.0])
            view = turn_onto(centre / np.linalg.norm(centre))
        intrinsics[0, 2] -= left
        intrinsics[1, 2] -= top
    return Crop(rgb, depth, intrinsics, view)


def turn_onto(direction: np.ndarray) -> np.ndarray:
    """The smallest rotation taking the optical axis (0, 0, 1) onto the unit ``direction``."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, direction)
    sin, cos = np.linalg.norm(axis), float(np.dot(z, direction))
    if sin < 1e-12:
        return np.eye(3) if cos > 0 else np.diag([1.0, -1.0, -1.0])
    k = axis / sin
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + sin * kx + (1 - cos) * kx @ kx


def _checked_depth(depth: np.ndarray | None, rgb: np.ndarray) -> np.ndarray | None:
    if depth is None:
        return None
    depth = np.asarray(depth, dtype=np.float32)
    if depth.shape != rgb.shape[:2]:
        raise ValueError(f"depth of shape {depth.shape} does not match the image {rgb.shape[:2]}")
    return depth
