"""Sensor data that carries its frame and resolution (no ROS, numpy only).

The ROS bridge (``eqrobot.ros.convert``) turns messages into these and back, and
the capabilities take them, so the same code serves a robot, a file and the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PointCloud:
    """``points`` ``(N, 3)`` in ``frame_id``; optional per-point attributes of length ``N``.

    ``colors`` is ``(N, 3)`` uint8 RGB, ``normals`` ``(N, 3)`` float, ``intensity`` ``(N,)``.
    ``stamp_ns`` is the acquisition time in nanoseconds (0 when unknown).
    """

    points: np.ndarray
    frame_id: str = ""
    stamp_ns: int = 0
    colors: np.ndarray | None = None
    normals: np.ndarray | None = None
    intensity: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points)
        if self.points.ndim != 2 or self.points.shape[1] != 3:
            raise ValueError(f"PointCloud.points must have shape (N, 3), got {self.points.shape}")
        n = len(self.points)
        for name in ("colors", "normals", "intensity"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"PointCloud.{name} has {len(value)} rows, points has {n}")

    def __len__(self) -> int:
        return len(self.points)

    def select(self, mask_or_index) -> PointCloud:
        """A new cloud with the chosen points and their attributes."""
        def pick(a):
            return None if a is None else a[mask_or_index]

        return PointCloud(
            self.points[mask_or_index], self.frame_id, self.stamp_ns,
            pick(self.colors), pick(self.normals), pick(self.intensity),
        )


@dataclass
class CameraIntrinsics:
    """Pinhole camera: 3x3 ``K``, image size, distortion (ROS ``plumb_bob`` etc.)."""

    K: np.ndarray
    width: int
    height: int
    distortion: np.ndarray = field(default_factory=lambda: np.zeros(5))
    distortion_model: str = "plumb_bob"
    frame_id: str = ""

    def __post_init__(self) -> None:
        self.K = np.asarray(self.K, dtype=np.float64).reshape(3, 3)
        self.distortion = np.asarray(self.distortion, dtype=np.float64).ravel()
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"CameraIntrinsics: image size must be positive, got {self.width}x{self.height}")
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise ValueError(f"CameraIntrinsics: focal lengths must be positive, got K={self.K.tolist()}")

    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])


# Occupancy values follow nav_msgs/OccupancyGrid: -1 unknown, 0 free .. 100 occupied.
UNKNOWN = -1


@dataclass
class OccupancyMap:
    """2-D occupancy grid: ``data[row, col]`` with row 0 at the map origin (the ROS layout).

    ``origin`` is the 4x4 pose of cell (0, 0)'s outer corner in ``frame_id``;
    ``resolution`` is metres per cell.
    """

    data: np.ndarray
    resolution: float
    origin: np.ndarray = field(default_factory=lambda: np.eye(4))
    frame_id: str = "map"

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data, dtype=np.int8)
        self.origin = np.asarray(self.origin, dtype=np.float64)
        if self.data.ndim != 2:
            raise ValueError(f"OccupancyMap.data must be 2-D, got shape {self.data.shape}")
        if not self.resolution > 0:
            raise ValueError(f"OccupancyMap.resolution must be positive, got {self.resolution}")
        if self.origin.shape != (4, 4):
            raise ValueError(f"OccupancyMap.origin must be 4x4, got {self.origin.shape}")

    @property
    def height(self) -> int:
        return self.data.shape[0]

    @property
    def width(self) -> int:
        return self.data.shape[1]

    @property
    def yaw(self) -> float:
        """The map's heading: a map lies flat, only its origin's turn about z counts."""
        return float(np.arctan2(self.origin[1, 0], self.origin[0, 0]))

    def blocked(self) -> np.ndarray:
        """Cells (bool) a robot may not enter: occupied (>= 50, ROS) or unknown (-1)."""
        return (self.data < 0) | (self.data >= 50)

    def cell_to_world(self, rows, cols) -> np.ndarray:
        """Centres of cells ``(row, col)`` as ``(N, 2)`` x, y in ``frame_id``."""
        local = np.stack([(np.asarray(cols) + 0.5) * self.resolution,
                          (np.asarray(rows) + 0.5) * self.resolution], axis=-1)
        R = self.origin[:2, :2]
        return local @ R.T + self.origin[:2, 3]

    def world_to_cell(self, xy) -> tuple[np.ndarray, np.ndarray]:
        """Cell ``(rows, cols)`` containing world points ``(N, 2)`` (may be out of bounds)."""
        xy = np.asarray(xy, dtype=np.float64)
        local = (xy - self.origin[:2, 3]) @ self.origin[:2, :2]
        cols = np.floor(local[..., 0] / self.resolution).astype(np.int64)
        rows = np.floor(local[..., 1] / self.resolution).astype(np.int64)
        return rows, cols

    def contains_cell(self, rows, cols) -> np.ndarray:
        rows, cols = np.asarray(rows), np.asarray(cols)
        return (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)
