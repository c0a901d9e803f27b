"""Place red in green: put every red block into a green bowl, one block per bowl (Ravens'
place-red-in-green, with up to two distractor blocks and bowls of other colours)."""

from __future__ import annotations

import numpy as np

from eqrobot.sim import assets
from eqrobot.sim.tasks.base import ANY_YAW, Goal, Task, planar_pose, random_free_poses

BLOCK = 0.04  # cube edge
BOWL_RADIUS, BOWL_HEIGHT, BOWL_WALL = 0.06, 0.03, 0.004
MAX_RED, MAX_DISTRACTORS = 2, 2
# Centre to centre: bowls never touch and a block never starts in or against a bowl.
CLEARANCE = 2 * BOWL_RADIUS + 0.02


def bowl_origin_height() -> float:
    """Height of ``assets.bowl``'s origin, its centroid (floor and wall), above its bottom."""
    floor = BOWL_RADIUS**2 * BOWL_WALL
    wall = (BOWL_RADIUS**2 - (BOWL_RADIUS - BOWL_WALL) ** 2) * (BOWL_HEIGHT - BOWL_WALL)
    return (floor * BOWL_WALL / 2 + wall * (BOWL_HEIGHT + BOWL_WALL) / 2) / (floor + wall)


def seat_in(bowl_pose: np.ndarray) -> np.ndarray:
    """Where a block's centre rests on the floor of the bowl at ``bowl_pose``."""
    seat = bowl_pose.copy()
    seat[2, 3] += BOWL_WALL + BLOCK / 2 - bowl_origin_height()
    return seat


class PlaceRedInGreen(Task):
    name = "place-red-in-green"
    max_steps = MAX_RED + 2  # the time limit registered for gymnasium; reset sets this episode's own

    def reset(self, world, rng: np.random.Generator) -> None:
        n_red = int(rng.integers(1, MAX_RED + 1))
        n_distractors = int(rng.integers(0, MAX_DISTRACTORS + 1))
        poses = random_free_poses(rng, 2 * n_red + n_distractors, CLEARANCE)
        bowls = [add_bowl(world, pose, assets.COLORS["green"]) for pose in poses[:n_red]]
        red_blocks = tuple(add_block(world, pose, assets.COLORS["red"]) for pose in poses[n_red:2 * n_red])
        for pose in poses[2 * n_red:]:
            add_distractor(world, pose, rng)
        top = np.array([0.0, 0.0, BLOCK / 2])
        # Red blocks look alike: any of them in a bowl meets that bowl's goal (as in Ravens).
        self.goals = [Goal(block, seat_in(world.pose_of(bowl)), top, ANY_YAW, 1.0, alike=red_blocks)
                      for block, bowl in zip(red_blocks, bowls, strict=True)]
        self.max_steps = n_red + 2  # one action per red block, two more for a block that bounced out


def add_block(world, pose: np.ndarray, rgba) -> int:
    x, y, yaw = pose
    return assets.load(world.client, assets.box((BLOCK,) * 3, rgba), planar_pose(x, y, BLOCK / 2, yaw))


def add_bowl(world, pose: np.ndarray, rgba) -> int:
    """A static bowl (Ravens fixes them too): a goal's target stays where the bowl is."""
    x, y, yaw = pose
    urdf = assets.bowl(BOWL_RADIUS, BOWL_HEIGHT, BOWL_WALL, rgba, mass=0.0)
    return assets.load(world.client, urdf, planar_pose(x, y, bowl_origin_height(), yaw), fixed=True)


def add_distractor(world, pose: np.ndarray, rng: np.random.Generator) -> int:
    """A block of any colour but red or a bowl of any colour but green, so neither counts."""
    is_block = rng.random() < 0.5
    excluded = "red" if is_block else "green"
    colour = assets.COLORS[str(rng.choice([c for c in assets.COLORS if c != excluded]))]
    return add_block(world, pose, colour) if is_block else add_bowl(world, pose, colour)
