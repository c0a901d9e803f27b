"""Align box corner: put a box of random size into the green L-shaped corner marker, one of its
corners in the marker's corner and its sides along the marker's strips (one action).

As in Ravens, any corner of the box will do: turned 180 deg the box covers the same footprint,
and turned 90 deg with its sides swapped it fits the corner too (its long side then along the
marker's other strip).
"""

from __future__ import annotations

import numpy as np

from eqrobot.sim import assets
from eqrobot.sim.tasks.base import Goal, Task, planar_pose, random_free_poses

# Smaller than Ravens' 5-15 cm, so the suction cup holds any box and the place crop (20 cm) sees it all.
SIDE_RANGE, HEIGHT_RANGE = (0.05, 0.12), (0.03, 0.06)
MARKER_ARM, MARKER_WIDTH, MARKER_THICKNESS = 0.05, 0.005, 0.001
# The scene is laid out about the site: the point halfway between the centres of the box in the corner
# as given and with its sides swapped. Every point of either footprint lies within
# |sx - sy| / (2 sqrt 2) + |(sx, sy)| / 2 <= 0.09 m of it, and every point of the box where it starts
# within its half diagonal (<= 0.085 m) of its centre. So with this margin all stays in the
# workspace and clear of the base of the arm (x > 0.31 m), where its tip misses by 1-3 cm.
MARGIN = 0.09
CLEARANCE = 0.09 + MARKER_WIDTH + 0.085  # the box starts off the marker and off both targets


def corner_targets(corner: np.ndarray, size) -> tuple[np.ndarray, np.ndarray]:
    """The poses of the box's centre in the corner at ``corner`` (4x4, on the table, turned like the
    marker): as given, its x side along the marker's x strip, then with its sides swapped."""
    sx, sy, sz = size
    aligned = corner @ planar_pose(sx / 2, sy / 2, sz / 2, 0.0)
    swapped = corner @ planar_pose(sy / 2, sx / 2, sz / 2, np.pi / 2)
    return aligned, swapped


def site_to_corner(size) -> np.ndarray:
    """The marker's corner in the frame of the site (``MARGIN``), which is turned like the marker."""
    sx, sy, _ = size
    return planar_pose(-(sx + sy) / 4, -(sx + sy) / 4, 0.0, 0.0)


class AlignBoxCorner(Task):
    name = "align-box-corner"
    max_steps = 3  # one placement; two more tries if the first misses

    def reset(self, world, rng: np.random.Generator) -> None:
        size = (*rng.uniform(*SIDE_RANGE, size=2), rng.uniform(*HEIGHT_RANGE))
        site, start = random_free_poses(rng, 2, CLEARANCE, margin=MARGIN)
        corner = planar_pose(*site[:2], 0.0, site[2]) @ site_to_corner(size)
        add_marker(world, corner)
        box = assets.load(world.client, assets.box(size, assets.COLORS["brown"]),
                          planar_pose(*start[:2], size[2] / 2, start[2]))
        aligned, swapped = corner_targets(corner, size)
        top = np.array([0.0, 0.0, size[2] / 2])
        # A box looks the same turned by 180 deg: that covers Ravens' other two target poses.
        self.goals = [Goal(box, aligned, top, symmetry=np.pi, alternatives=(swapped,))]


def add_marker(world, corner: np.ndarray) -> int:
    """The green L, static and flat on the table, outlining ``corner`` (4x4, on the table)."""
    urdf = assets.corner(MARKER_ARM, MARKER_WIDTH, MARKER_THICKNESS, assets.COLORS["green"])
    pose = corner.copy()
    pose[2, 3] += MARKER_THICKNESS / 2  # the marker's origin is halfway up its thickness
    return assets.load(world.client, urdf, pose, fixed=True)
