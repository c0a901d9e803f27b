"""Stack block pyramid: build a pyramid of six blocks on the base marker, three side by side, two
on them and one on top (Ravens' stack-block-pyramid; the blocks of one row may go in any order)."""

from __future__ import annotations

import numpy as np

from eqrobot.sim import assets
from eqrobot.sim.tasks.base import Goal, Task, planar_pose, random_free_poses

BLOCK = 0.04  # cube edge
# Centre to centre along a row, as in Ravens: 1 cm gaps take up the arm's placing error (1-5 mm);
# with 2 mm gaps (0.042) a block set down against its neighbour tipped over in 3 of 40 episodes.
SPACING = 0.05
BASE_SIZE = (0.15, 0.05, 0.001)  # the flat marker under the bottom row, long along its x
# Bottom row first: the oracle builds in goal order. Slots are (x in the base frame, z of the centre).
ROWS = (
    (("purple", -SPACING, BLOCK / 2), ("blue", 0.0, BLOCK / 2), ("green", SPACING, BLOCK / 2)),
    (("yellow", -SPACING / 2, 1.5 * BLOCK), ("orange", SPACING / 2, 1.5 * BLOCK)),
    (("red", 0.0, 2.5 * BLOCK),),
)
MARGIN = 0.08  # random_free_poses' margin: where blocks start, the arm is known to place well
# The base's centre is an outer slot's offset further in, so that every slot is where blocks may start:
# nearer its base (x < 0.31 m about y = 0) the arm's tip misses by 1-3 cm.
BASE_MARGIN = MARGIN + SPACING
# Centre to centre at the start: blocks leave room for the tool between them; none starts on the
# base (half its length plus a block's half diagonal is 0.103 m) or against the pyramid.
BLOCK_CLEARANCE, BASE_CLEARANCE = 0.07, 0.12


def slot_pose(base_at: np.ndarray, x: float, z: float) -> np.ndarray:
    """The pose of a block at ``x`` along the base at ``base_at`` (x, y, yaw), its centre ``z`` high."""
    bx, by, yaw = base_at
    return planar_pose(bx + x * np.cos(yaw), by + x * np.sin(yaw), z, yaw)


class StackBlockPyramid(Task):
    name = "stack-block-pyramid"
    max_steps = 12  # six placements, six more to redo what falls

    def reset(self, world, rng: np.random.Generator) -> None:
        (base_at,) = random_free_poses(rng, 1, 0.0, margin=BASE_MARGIN)
        blocks_at = poses_off_base(rng, base_at, sum(map(len, ROWS)))
        marker = assets.zone(BASE_SIZE, assets.COLORS["gray"])
        assets.load(world.client, marker, planar_pose(*base_at[:2], BASE_SIZE[2] / 2, base_at[2]), fixed=True)
        starts = iter(blocks_at)
        top = np.array([0.0, 0.0, BLOCK / 2])
        self.goals = []
        for stage, row in enumerate(ROWS):
            blocks = tuple(add_block(world, next(starts), colour) for colour, _, _ in row)
            # Any block of a row may fill any slot of that row (Ravens accepts any order in a row);
            # a row is one of Ravens' goal steps.
            self.goals += [Goal(block, slot_pose(base_at, x, z), top, np.pi / 2, 1 / 6, alike=blocks, stage=stage)
                           for block, (_, x, z) in zip(blocks, row, strict=True)]


def poses_off_base(rng: np.random.Generator, base_at: np.ndarray, n: int, attempts: int = 100) -> list[np.ndarray]:
    """``n`` random free (x, y, yaw) for the blocks, all ``BASE_CLEARANCE`` from the base's centre."""
    for _ in range(attempts):
        poses = random_free_poses(rng, n, BLOCK_CLEARANCE, margin=MARGIN)
        if all(np.linalg.norm(q[:2] - base_at[:2]) >= BASE_CLEARANCE for q in poses):
            return poses
    raise RuntimeError(f"could not place {n} blocks off the base")


def add_block(world, pose: np.ndarray, colour: str) -> int:
    x, y, yaw = pose
    urdf = assets.box((BLOCK,) * 3, assets.COLORS[colour])
    return assets.load(world.client, urdf, planar_pose(x, y, BLOCK / 2, yaw))
