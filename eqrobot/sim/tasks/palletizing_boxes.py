"""Palletizing boxes: stack the boxes lying on the table onto the pallet, two by two in two layers,
bottom layer first (Ravens' palletizing-boxes, smaller).

Where it differs from Ravens: Ravens stacks 18 boxes (2 x 3 in a layer, three layers, every other
layer turned) that appear one at a time beside a pallet that is always in the same place, and counts
a box as done anywhere inside the pallet's zone. Here all the boxes lie on the table from the start
and the pallet is anywhere, turned any way; there are 8 (2 x 2 x 2), so an episode runs in seconds
on a CPU; their footprints are square, so a layer turned 90 deg is the same layer; and a box counts
in a slot of the grid (1 cm and 15 deg, as in every task here), so a box half on the pallet, or
one tipped against the stack, earns nothing. The boxes look alike: any box fills any slot.
"""

from __future__ import annotations

import numpy as np

from eqrobot.geometry.heightmap import RAVENS_BOUNDS
from eqrobot.sim import assets
from eqrobot.sim.tasks.base import Goal, Task, planar_pose, random_free_poses

# A square footprint, so the symmetry is pi / 2 and every layer the same; a 2 x 2 layer with its gap
# takes 0.15 m of the 0.3 x 0.25 m pallet. The suction cup (8 mm radius) picks one on its top's centre.
BOX = (0.07, 0.07, 0.05)
GAP = 0.01  # between neighbouring slots, as in Ravens: it takes up the arm's placing error (1-5 mm)
GRID = (2, 2, 2)  # boxes along the pallet's x and y, layers
PALLET = (0.3, 0.25, 0.015)  # assets.pallet's default
MARGIN = 0.08  # what the other tasks keep inside the workspace: there the arm places well
# The pallet's centre: with any yaw the whole pallet (0.195 m from its centre to a corner) stays in
# the workspace, so the heightmap sees it, and the slots (within 0.057 m of the centre) stay MARGIN
# inside it and clear of the arm's base (x < 0.31 m), where its tip misses by 1-3 cm.
PALLET_MARGIN = 0.2
# Boxes start 1 cm or more apart and off the pallet, whichever way each is turned (their half diagonal).
BOX_RADIUS = float(np.hypot(BOX[0], BOX[1]) / 2)
CLEARANCE = 2 * BOX_RADIUS + 0.01
MAX_STEPS = int(np.prod(GRID)) + 4  # one placement per box, four more to redo what misses


def slot_offsets() -> list[tuple[float, float, float]]:
    """The boxes' centres in the pallet's frame (origin on its top, at its centre), bottom layer first."""
    nx, ny, nz = GRID
    pitch_x, pitch_y = BOX[0] + GAP, BOX[1] + GAP
    return [((i - (nx - 1) / 2) * pitch_x, (j - (ny - 1) / 2) * pitch_y, (k + 0.5) * BOX[2])
            for k in range(nz) for j in range(ny) for i in range(nx)]


class PalletizingBoxes(Task):
    name = "palletizing-boxes"
    max_steps = MAX_STEPS

    def reset(self, world, rng: np.random.Generator) -> None:
        (pallet_at,) = random_free_poses(rng, 1, 0.0, margin=PALLET_MARGIN)
        self.top = top = planar_pose(pallet_at[0], pallet_at[1], PALLET[2], pallet_at[2])  # the pallet's top centre
        pallet_pose = top @ planar_pose(0.0, 0.0, -PALLET[2] / 2, 0.0)
        self.pallet = assets.load(world.client, assets.pallet(PALLET), pallet_pose, fixed=True)
        urdf = assets.box(BOX, assets.COLORS["brown"])
        boxes = tuple(assets.load(world.client, urdf, planar_pose(x, y, BOX[2] / 2, yaw))
                      for x, y, yaw in poses_off_pallet(rng, pallet_at, int(np.prod(GRID))))
        on_top = np.array([0.0, 0.0, BOX[2] / 2])
        weight = 1 / len(boxes)
        # Goal order is the oracle's: the bottom layer first. Any box may fill any slot.
        self.goals = [Goal(box, top @ planar_pose(x, y, z, 0.0), on_top, np.pi / 2, weight, alike=boxes)
                      for box, (x, y, z) in zip(boxes, slot_offsets(), strict=True)]


def off_pallet(xy: np.ndarray, pallet_at: np.ndarray) -> bool:
    """Whether a box centred at ``xy``, turned any way, stays 1 cm or more off the pallet at ``pallet_at``."""
    c, s = np.cos(pallet_at[2]), np.sin(pallet_at[2])
    local = np.array([[c, s], [-s, c]]) @ (xy - pallet_at[:2])
    outside = np.maximum(np.abs(local) - np.array(PALLET[:2]) / 2, 0.0)
    return bool(np.linalg.norm(outside) >= BOX_RADIUS + 0.01)


def poses_off_pallet(rng: np.random.Generator, pallet_at: np.ndarray, n: int, bounds=RAVENS_BOUNDS,
                     attempts: int = 5000) -> list[np.ndarray]:
    """``n`` random (x, y, yaw) for the boxes, ``MARGIN`` inside the workspace, ``CLEARANCE`` apart
    and off the pallet: drawn one at a time (drawing all of them at once and rejecting the lot
    when one lands on the pallet fails most of the time)."""
    (x0, x1), (y0, y1), _ = bounds
    poses: list[np.ndarray] = []
    for _ in range(attempts):
        candidate = np.array([rng.uniform(x0 + MARGIN, x1 - MARGIN), rng.uniform(y0 + MARGIN, y1 - MARGIN),
                              rng.uniform(-np.pi, np.pi)])
        if off_pallet(candidate[:2], pallet_at) and all(
                np.linalg.norm(candidate[:2] - q[:2]) >= CLEARANCE for q in poses):
            poses.append(candidate)
            if len(poses) == n:
                return poses
    raise RuntimeError(f"could not place {n} boxes off the pallet")
