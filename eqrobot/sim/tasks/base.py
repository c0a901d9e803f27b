"""What every tabletop task shares: goals (a body and where it may end up), the success
test (within 1 cm and 15 deg of a target, up to the object's symmetry), partial-credit reward
and the oracle that demonstrations come from.

A task file builds its scene in ``reset`` and lists its goals; the rest is here. Action
poses are suction-tip poses (x, y, z, yaw) in the table frame (``eqrobot.sim.robot``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eqrobot.geometry.heightmap import RAVENS_BOUNDS
from eqrobot.geometry.rotations import matrix_to_rpy, rot_z
from eqrobot.geometry.transforms import compose, invert, make_transform

POSITION_TOLERANCE = 0.01  # metres
YAW_TOLERANCE = np.radians(15.0)
# The symmetry of a goal that any yaw meets (a block in a bowl, a round disk). yaw_difference(a, b, s)
# is at most s / 2, so with s = 1e-3 rad every yaw is within the tolerance, and the oracle's turn
# (reduced modulo s) stays under 1e-3 rad. (A cube's own pi / 2 would make the oracle turn blocks
# for nothing and fail a block put in a bowl at 30 deg.)
ANY_YAW = 1e-3


@dataclass
class Goal:
    body: int
    target: np.ndarray  # (4, 4) where the body's base frame should be
    pick_offset: np.ndarray  # (3,) a point on the body's top, in its frame: where the oracle picks
    symmetry: float = 2 * np.pi  # the body looks the same after turning this much about z
    weight: float = 1.0  # share of the episode's reward
    # Bodies that look like ``body`` and meet the goal as well (any red block in a bowl, any
    # block of a pyramid row in its slots, as in Ravens): a policy cannot tell them apart.
    alike: tuple = ()
    # Other poses that meet the goal as well (align-box-corner's box with its sides swapped at the
    # corner, as in Ravens), each up to ``symmetry`` like ``target``.
    alternatives: tuple = ()
    # Ravens' goal step the goal belongs to (a pyramid's row): Ravens scores the steps in order and
    # keeps a step's credit once all its goals are met (``eqrobot.sim.tasks.ravens_score``).
    stage: int = 0

    @property
    def candidates(self) -> tuple:
        return (self.body, *(b for b in self.alike if b != self.body))

    @property
    def targets(self) -> tuple:
        return (self.target, *self.alternatives)


def random_free_poses(rng: np.random.Generator, n: int, clearance: float, bounds=RAVENS_BOUNDS,
                      margin: float = 0.08, attempts: int = 1000, radii=None) -> list[np.ndarray]:
    """``n`` random (x, y, yaw) in the workspace, ``margin`` inside its edges and at least
    ``clearance`` apart (centre to centre); or, given ``radii`` (one per object, placed in
    order), objects whose circular footprints of those radii do not overlap."""
    radii = [clearance / 2] * n if radii is None else list(radii)
    (x0, x1), (y0, y1), _ = bounds
    poses: list[np.ndarray] = []
    for _ in range(attempts):
        candidate = np.array([rng.uniform(x0 + margin, x1 - margin), rng.uniform(y0 + margin, y1 - margin),
                              rng.uniform(-np.pi, np.pi)])
        r = radii[len(poses)]
        if all(np.linalg.norm(candidate[:2] - q[:2]) >= r + radii[j] for j, q in enumerate(poses)):
            poses.append(candidate)
            if len(poses) == len(radii):
                return poses
    raise RuntimeError(f"could not place {len(radii)} objects apart in the workspace")


def planar_pose(x: float, y: float, z: float, yaw: float) -> np.ndarray:
    return make_transform(rot_z(yaw), [x, y, z])


def yaw_of(T: np.ndarray) -> float:
    return float(matrix_to_rpy(T[:3, :3])[2])


def yaw_difference(a: float, b: float, symmetry: float = 2 * np.pi) -> float:
    """Smallest |a - b| modulo ``symmetry``."""
    d = np.mod(a - b, symmetry)
    return float(min(d, symmetry - d))


def shortest_turn(start: float, end: float, symmetry: float = 2 * np.pi) -> float:
    """The signed turn of least size from yaw ``start`` to yaw ``end`` modulo ``symmetry``."""
    turn = end - start
    return float(turn - symmetry * np.round(turn / symmetry))


def near(T: np.ndarray, target: np.ndarray, symmetry: float, planar: bool = False,
         tolerance: float = POSITION_TOLERANCE) -> bool:
    """Whether pose ``T`` is within ``tolerance`` (metres) and 15 deg of ``target``: in 3D, or with
    ``planar`` in x and y only, as Ravens' pose test (a block resting on a fixture's rim above its slot passes it)."""
    axes = 2 if planar else 3
    close = np.linalg.norm(T[:axes, 3] - target[:axes, 3]) < tolerance
    return bool(close and yaw_difference(yaw_of(T), yaw_of(target), symmetry) < YAW_TOLERANCE)


class Task:
    name = "task"
    max_steps = 10  # pick-and-place actions an episode may take (the env's time limit)
    position_tolerance = POSITION_TOLERANCE  # Ravens' pos_eps: its tasks keep 1 cm but place-red-in-green

    def __init__(self) -> None:
        self.goals: list[Goal] = []

    def reset(self, world, rng: np.random.Generator) -> None:
        """Build the scene in ``world`` and fill ``self.goals``."""
        raise NotImplementedError

    def achieved(self, world, goal: Goal) -> bool:
        return self.meeting(world, goal) is not None

    def meeting(self, world, goal: Goal) -> int | None:
        """The body (``goal.body`` or one alike) at one of the goal's targets, if any."""
        return next((body for body in goal.candidates if self.at_target(world, body, goal)), None)

    def at_target(self, world, body: int, goal: Goal, planar: bool = False) -> bool:
        T = world.pose_of(body)
        return any(near(T, target, goal.symmetry, planar, self.position_tolerance) for target in goal.targets)

    def reward(self, world) -> float:
        """Partial credit: the weights of the goals met, in [0, 1]."""
        total = sum(g.weight for g in self.goals)
        return float(sum(g.weight for g in self.goals if self.achieved(world, g)) / max(total, 1e-12))

    def ravens_reward(self, world, goals=None) -> float:
        """The credit of ``goals`` (default: all) by Ravens' own pose test, what the published scores
        measure: the share of the task's weight whose goals are met in x, y and yaw. Tasks that
        Ravens measures otherwise override it (packing-boxes). ``RavensScore`` adds Ravens' steps."""
        total = sum(g.weight for g in self.goals)
        met = sum(g.weight for g in (self.goals if goals is None else goals) if self.ravens_met(world, g))
        return float(met / max(total, 1e-12))

    def ravens_met(self, world, goal: Goal) -> bool:
        return any(self.at_target(world, body, goal, planar=True) for body in goal.candidates)

    def oracle(self, world) -> tuple[np.ndarray, np.ndarray]:
        """``(pick, place)`` tip poses that move a body onto the first unmet goal's target (of
        its targets not holding a body that meets another goal, the one the shortest turn its
        symmetry allows reaches, the first of those), turning it that way: the goal's own body,
        or one alike when that one already meets another goal."""
        goal = next((g for g in self.goals if not self.achieved(world, g)), self.goals[-1])
        taken = {self.meeting(world, g) for g in self.goals if g is not goal} - {None}
        body = next((b for b in goal.candidates if b not in taken), goal.body)
        T = world.pose_of(body)
        grasp_xyz = (T @ np.append(goal.pick_offset, 1.0))[:3]
        pick = planar_pose(*grasp_xyz, yaw_of(T))
        filled = [world.pose_of(b)[:2, 3] for b in taken]
        free = [t for t in goal.targets
                if not any(np.linalg.norm(t[:2, 3] - xy) < self.position_tolerance for xy in filled)] or goal.targets
        turns = np.array([shortest_turn(yaw_of(T), yaw_of(t), goal.symmetry) for t in free])
        nearest = int(np.flatnonzero(np.abs(turns) <= np.abs(turns).min() + ANY_YAW)[0])  # ``target`` when free
        target = free[nearest].copy()
        target[:3, :3] = rot_z(yaw_of(T) + turns[nearest])
        # The body rides rigidly on the tool: where the tip must be when the body is at its target.
        place = compose(target, invert(T), pick)
        return _tip(pick), _tip(place)


def _tip(T: np.ndarray) -> np.ndarray:
    return np.array([T[0, 3], T[1, 3], T[2, 3], yaw_of(T)])
