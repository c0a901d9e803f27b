"""Place red in green: put every red block into a green bowl (Ravens' place-red-in-green, as
Ravens builds it: one to three green bowls, one red block per bowl at most, ten distractor
blocks and bowls of the other colours, ten actions, and a block counts anywhere in a bowl)."""

from __future__ import annotations

import numpy as np

from eqrobot.sim import assets
from eqrobot.sim.tasks.base import ANY_YAW, Goal, Task, planar_pose, random_free_poses

BLOCK = 0.04  # cube edge
BOWL_RADIUS, BOWL_HEIGHT, BOWL_WALL = 0.06, 0.03, 0.004
MAX_BOWLS, DISTRACTORS = 3, 10
GAP = 0.005  # between any two objects' footprints at the start
FOOTPRINT = {"bowl": BOWL_RADIUS + GAP / 2, "block": BLOCK / np.sqrt(2) + GAP / 2}  # radii of their circles
DISTRACTOR_COLOURS = {kind: [c for c in assets.COLORS if c != excluded]
                      for kind, excluded in (("block", "red"), ("bowl", "green"))}


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
    max_steps = 10  # Ravens' time limit for this task
    # Ravens' pos_eps here: a block counts anywhere in a bowl (its centre rests at most
    # BOWL_RADIUS - BOWL_WALL - BLOCK / 2 = 3.6 cm from the bowl's).
    position_tolerance = 0.05

    def reset(self, world, rng: np.random.Generator) -> None:
        n_bowls = int(rng.integers(1, MAX_BOWLS + 1))
        n_red = int(rng.integers(1, n_bowls + 1))
        kinds = ["bowl"] * n_bowls + ["block"] * n_red + [str(k) for k in rng.choice(["block", "bowl"], DISTRACTORS)]
        poses = random_free_poses(rng, len(kinds), 0.0, attempts=20_000, radii=[FOOTPRINT[k] for k in kinds])
        bowls = [add_bowl(world, pose, assets.COLORS["green"]) for pose in poses[:n_bowls]]
        red_blocks = [add_block(world, pose, assets.COLORS["red"]) for pose in poses[n_bowls:n_bowls + n_red]]
        for i, (kind, pose) in enumerate(zip(kinds[n_bowls + n_red:], poses[n_bowls + n_red:], strict=True)):
            # Ravens goes through the other colours in turn, so every one of them shows up.
            colour = assets.COLORS[DISTRACTOR_COLOURS[kind][i % len(DISTRACTOR_COLOURS[kind])]]
            (add_block if kind == "block" else add_bowl)(world, pose, colour)
        seats = [seat_in(world.pose_of(bowl)) for bowl in bowls]
        top = np.array([0.0, 0.0, BLOCK / 2])
        # Red block i in any green bowl (as in Ravens); the oracle takes bowl i, or a free one.
        self.goals = [Goal(block, seats[i], top, ANY_YAW, 1.0, alternatives=tuple(seats[:i] + seats[i + 1:]))
                      for i, block in enumerate(red_blocks)]


def add_block(world, pose: np.ndarray, rgba) -> int:
    x, y, yaw = pose
    return assets.load(world.client, assets.box((BLOCK,) * 3, rgba), planar_pose(x, y, BLOCK / 2, yaw))


def add_bowl(world, pose: np.ndarray, rgba) -> int:
    """A static bowl (Ravens fixes its green ones): a goal's target stays where the bowl is."""
    x, y, yaw = pose
    urdf = assets.bowl(BOWL_RADIUS, BOWL_HEIGHT, BOWL_WALL, rgba, mass=0.0)
    return assets.load(world.client, urdf, planar_pose(x, y, bowl_origin_height(), yaw), fixed=True)
