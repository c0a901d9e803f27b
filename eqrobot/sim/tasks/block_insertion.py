"""Block insertion: put the L-shaped block into the L-shaped slot of the fixture (one action)."""

from __future__ import annotations

import numpy as np

from eqrobot.sim import assets
from eqrobot.sim.tasks.base import Goal, Task, planar_pose, random_free_poses

ARM_LENGTH, ARM_WIDTH, HEIGHT = 0.1, 0.04, 0.04


def corner_in_block_frame() -> float:
    """x (= y) of the middle of the L's corner square in the block's frame (its centroid): the
    oracle picks there, on solid material, unlike at the centroid, 1 mm inside an edge."""
    full, rest = ARM_LENGTH * ARM_WIDTH, (ARM_LENGTH - ARM_WIDTH) * ARM_WIDTH
    corner = -ARM_LENGTH / 2 + ARM_WIDTH / 2  # in the footprint square's frame
    centroid = (full * corner + rest * ARM_WIDTH / 2) / (full + rest)
    return corner - centroid


class BlockInsertion(Task):
    name = "block-insertion"
    max_steps = 3  # one insertion; two more tries if the first leaves the block outside

    def reset(self, world, rng: np.random.Generator) -> None:
        block_at, fixture_at = random_free_poses(rng, 2, clearance=0.18)
        z = HEIGHT / 2
        fixture = assets.load(world.client, assets.l_fixture(), planar_pose(*fixture_at[:2], z, fixture_at[2]),
                              fixed=True)
        block = assets.load(world.client, assets.l_block(), planar_pose(*block_at[:2], z, block_at[2]))
        corner = corner_in_block_frame()
        self.goals = [Goal(block, world.pose_of(fixture), np.array([corner, corner, HEIGHT / 2]))]
