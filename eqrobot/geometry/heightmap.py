"""Top-down heightmaps from RGB-D cameras: the observation of the pick-and-place policies.

The same projection serves a real robot (its cameras' depth, intrinsics and poses) and the
simulator, so a policy sees the same kind of image from both. Layout (the Ravens
convention): row index along the workspace y axis, column index along x; pixel (r, c)
covers x in [x_min + c * s, x_min + (c + 1) * s), y likewise with r; heights are metres
above the workspace's z_min. Cells no camera sees have height 0 and colour 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eqrobot.geometry.transforms import apply, check_transform
from eqrobot.geometry.types import CameraIntrinsics

# Ravens: x in [0.25, 0.75] m, y in [-0.5, 0.5] m, z in [0, 0.28] m at 3.125 mm -> 320 x 160.
RAVENS_BOUNDS = ((0.25, 0.75), (-0.5, 0.5), (0.0, 0.28))
RAVENS_PIXEL_SIZE = 0.003125


@dataclass(frozen=True)
class Workspace:
    """An axis-aligned box ``bounds`` ((x_min, x_max), (y_min, y_max), (z_min, z_max)) in
    metres, in the frame the camera poses are given in, seen from above at ``pixel_size``."""

    bounds: tuple = RAVENS_BOUNDS
    pixel_size: float = RAVENS_PIXEL_SIZE

    def __post_init__(self) -> None:
        b = np.asarray(self.bounds, dtype=np.float64)
        if b.shape != (3, 2) or not np.all(b[:, 1] > b[:, 0]):
            raise ValueError(f"workspace bounds must be ((x_min, x_max), (y_min, y_max), (z_min, z_max)) "
                             f"with max > min, got {self.bounds}")
        if not self.pixel_size > 0:
            raise ValueError(f"pixel_size must be positive, got {self.pixel_size}")

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.bounds, dtype=np.float64)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``: cells along y, cells along x."""
        b = self.array
        return (int(round((b[1, 1] - b[1, 0]) / self.pixel_size)),
                int(round((b[0, 1] - b[0, 0]) / self.pixel_size)))

    def xy_to_pixel(self, xy) -> np.ndarray:
        """``(..., 2)`` metres -> integer ``(row, col)`` of the cell containing each point."""
        xy = np.asarray(xy, dtype=np.float64)
        b = self.array
        col = np.floor((xy[..., 0] - b[0, 0]) / self.pixel_size)
        row = np.floor((xy[..., 1] - b[1, 0]) / self.pixel_size)
        return np.stack([row, col], axis=-1).astype(np.int64)

    def pixel_to_xy(self, pixel) -> np.ndarray:
        """``(..., 2)`` ``(row, col)`` -> metres at the cell centre."""
        pixel = np.asarray(pixel, dtype=np.float64)
        b = self.array
        return np.stack([b[0, 0] + (pixel[..., 1] + 0.5) * self.pixel_size,
                         b[1, 0] + (pixel[..., 0] + 0.5) * self.pixel_size], axis=-1)


RAVENS_WORKSPACE = Workspace()


@dataclass
class Heightmap:
    """``height`` (rows, cols) float32 metres above z_min, ``color`` (rows, cols, 3) uint8 and
    ``seen`` (rows, cols) bool: some camera saw a surface in the cell."""

    height: np.ndarray
    color: np.ndarray
    workspace: Workspace
    seen: np.ndarray


@dataclass
class RGBDView:
    """One camera's images: ``color`` (H, W, 3) uint8, ``depth`` (H, W) along the optical axis
    in units of ``depth_scale`` metres (1.0 for metres, 0.001 for 16UC1 millimetres; 0, NaN or
    inf where the sensor has no reading), and the optical frame's pose (x right, y down,
    z forward) in the workspace frame."""

    color: np.ndarray
    depth: np.ndarray
    intrinsics: CameraIntrinsics
    pose: np.ndarray
    depth_scale: float = 1.0


def depth_to_points(depth: np.ndarray, intrinsics: CameraIntrinsics, depth_scale: float = 1.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(points (M, 3) in the optical frame, flat pixel indices (M,))`` of the valid depth pixels."""
    depth = np.asarray(depth, dtype=np.float64) * depth_scale
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(f"depth image is {depth.shape[1]}x{depth.shape[0]}, the intrinsics say "
                         f"{intrinsics.width}x{intrinsics.height}")
    rows, cols = np.indices(depth.shape)
    z = depth.ravel()
    valid = np.flatnonzero(np.isfinite(z) & (z > 0))
    z = z[valid]
    x = (cols.ravel()[valid] - intrinsics.cx) * z / intrinsics.fx
    y = (rows.ravel()[valid] - intrinsics.cy) * z / intrinsics.fy
    return np.stack([x, y, z], axis=1), valid


def points_to_heightmap(points: np.ndarray, colors: np.ndarray, workspace: Workspace) -> Heightmap:
    """The highest point of each cell wins (with its colour); points outside the box are dropped."""
    rows, cols = workspace.shape
    b = workspace.array
    inside = np.all((points >= b[:, 0]) & (points < b[:, 1]), axis=1)
    points, colors = points[inside], colors[inside]
    pixel = workspace.xy_to_pixel(points[:, :2])
    ok = (pixel[:, 0] < rows) & (pixel[:, 1] < cols)  # rounding at the far edges
    points, colors, pixel = points[ok], colors[ok], pixel[ok]
    order = np.argsort(points[:, 2], kind="stable")  # ascending: the last write (highest) stays
    height = np.zeros((rows, cols), dtype=np.float32)
    color = np.zeros((rows, cols, 3), dtype=np.uint8)
    r, c = pixel[order, 0], pixel[order, 1]
    height[r, c] = points[order, 2] - b[2, 0]
    color[r, c] = colors[order]
    seen = np.zeros((rows, cols), dtype=bool)
    seen[r, c] = True
    return Heightmap(height, color, workspace, seen)


def heightmap_from_rgbd(views: Sequence[RGBDView], workspace: Workspace = RAVENS_WORKSPACE) -> Heightmap:
    """Fuse any number of RGB-D views: per cell the highest surface any camera saw, and the
    mean colour of the cameras that saw it."""
    if not views:
        raise ValueError("need at least one RGB-D view")
    maps = []
    for view in views:
        pose = check_transform(view.pose, name="camera pose")
        color = np.asarray(view.color)
        if color.shape[:2] != (view.intrinsics.height, view.intrinsics.width) or color.shape[-1] < 3:
            raise ValueError(f"color image must be {view.intrinsics.height}x{view.intrinsics.width}x3, "
                             f"got shape {color.shape}")
        points, index = depth_to_points(view.depth, view.intrinsics, view.depth_scale)
        maps.append(points_to_heightmap(apply(pose, points), color[..., :3].reshape(-1, 3)[index], workspace))
    height = np.max([m.height for m in maps], axis=0)
    seen = np.stack([m.seen for m in maps])
    colors = np.stack([m.color.astype(np.float64) for m in maps])
    mean = (colors * seen[..., None]).sum(0) / np.maximum(seen.sum(0), 1)[..., None]
    return Heightmap(height, np.round(mean).astype(np.uint8), workspace, seen.any(0))
