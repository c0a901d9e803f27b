"""Towers of Hanoi: move the tower of three disks from the peg at one end of the stand to the peg at
the other end (as in Ravens: rod 0 at y = -0.12 m of the stand to rod 2 at y = +0.12 m), one disk
per action, never a larger disk on a smaller one.

Where it differs from Ravens: Ravens lists the seven moves of the solution as goals, met in order,
and its oracle replays them. Here the reward and the oracle read the state: a disk is on a peg
when it is within the success tolerance of that peg's slot at its height (on the larger disks
there), the reward is the progress along an optimal solution from that state (1 - moves left /
7, from a search over the 27 states of three disks on three pegs), and the oracle makes the next
move of an optimal solution from the current state. So a policy's legal detour keeps the credit
the state deserves and the oracle carries on from wherever the disks are. A disk off the pegs
(dropped, or set on a smaller disk) counts as on the peg that leaves the most moves: putting
disks aside never earns credit; the oracle first puts it back where it leaves the fewest.
"""

from __future__ import annotations

from functools import cache
from itertools import product

import numpy as np
import pybullet as p

from eqrobot.sim import assets
from eqrobot.sim.tasks.base import ANY_YAW, Goal, Task, near, planar_pose, random_free_poses

# assets.hanoi_base's and assets.hanoi_disk's defaults: the stand's slab and pegs, a disk's thickness.
PEG_SPACING, BASE_THICKNESS, PEG_HEIGHT = 0.12, 0.01, 0.06
DISK_THICKNESS = 0.015
PEG_Y = (-PEG_SPACING, 0.0, PEG_SPACING)  # the pegs along the stand's y
N_DISKS = len(assets.HANOI_DISK_RADII)  # smallest first, as in assets
START_PEG, GOAL_PEG = 0, 2
MARGIN = 0.08  # what the other tasks keep inside the workspace: there the arm places well
# The stand's centre is a peg spacing further in, so every peg is MARGIN inside the workspace (and
# clear of the arm's base, x < 0.31 m, where its tip misses by 1-3 cm); the slab's corners
# (0.19 m from its centre) stay in the workspace too.
BASE_MARGIN = MARGIN + PEG_SPACING
# Disks are round: any yaw will do (base.ANY_YAW), and the oracle never turns one.
# The suction tip picks a disk on its ring (not over the hole), this far inside its rim: the tool's
# 8 mm radius then stays 3 mm or more off the peg through the hole even when the hole's 4 mm of play
# puts the peg against the hole's side (touching the static stand, the cup would grip it), while
# 12 of the cup's 16 mm still rest on the smallest disk's 15 mm wide ring. Placed so, disks slide
# down the pegs and rest within 2 mm of their slots.
RIM_INSET = 0.004
MAX_STEPS = 10  # seven moves, three more to redo a move that went wrong


def slot_height(level: int) -> float:
    """Height above the table of the centre of a disk resting ``level`` disks up a peg."""
    return BASE_THICKNESS + DISK_THICKNESS * (level + 0.5)


def neighbours(state: tuple) -> list[tuple[int, int, tuple]]:
    """The legal moves ``(disk, peg, next state)`` from ``state`` (each disk's peg, smallest first):
    a disk with no smaller one on its peg, onto a peg with no smaller one."""
    moves = []
    for disk, peg in enumerate(state):
        if peg in state[:disk]:
            continue
        for to in range(len(PEG_Y)):
            if to != peg and to not in state[:disk]:
                moves.append((disk, to, (*state[:disk], to, *state[disk + 1:])))
    return moves


@cache
def moves_left() -> dict[tuple, int]:
    """The fewest moves from each of the 27 states to the tower on ``GOAL_PEG`` (moves are
    reversible: a breadth-first search from the goal)."""
    goal = (GOAL_PEG,) * N_DISKS
    left, frontier = {goal: 0}, [goal]
    while frontier:
        state = frontier.pop(0)
        for _, _, after in neighbours(state):
            if after not in left:
                left[after] = left[state] + 1
                frontier.append(after)
    return left


def worst_moves_left(observed: tuple) -> int:
    """Moves left from ``observed`` (a peg or None per disk), a disk off the pegs counted on the
    peg that leaves the most."""
    loose = [disk for disk, peg in enumerate(observed) if peg is None]
    worst = 0
    for pegs in product(range(len(PEG_Y)), repeat=len(loose)):
        state = list(observed)
        for disk, peg in zip(loose, pegs, strict=True):
            state[disk] = peg
        worst = max(worst, moves_left()[tuple(state)])
    return worst


TOTAL_MOVES = moves_left()[(START_PEG,) * N_DISKS]  # 7


class TowersOfHanoi(Task):
    name = "towers-of-hanoi"
    max_steps = MAX_STEPS

    def reset(self, world, rng: np.random.Generator) -> None:
        (base_at,) = random_free_poses(rng, 1, 0.0, margin=BASE_MARGIN)
        self.stand = planar_pose(base_at[0], base_at[1], 0.0, base_at[2])  # under the stand's centre, on the table
        centre = planar_pose(0.0, 0.0, (BASE_THICKNESS + PEG_HEIGHT) / 2, 0.0)  # assets.hanoi_base's origin
        assets.load(world.client, assets.hanoi_base(), self.stand @ centre, fixed=True)
        self.disks = [assets.load(world.client, assets.hanoi_disk(disk), self.slot(START_PEG, N_DISKS - 1 - disk))
                      for disk in range(N_DISKS)]
        for body in self.disks:
            let_sleep(world, body)
        # Where each disk ends up (the reward and the oracle go by the state, not by these).
        self.goals = [Goal(body, self.slot(GOAL_PEG, N_DISKS - 1 - disk), np.array([pick_radius(disk), 0.0, 0.0]),
                           ANY_YAW, 1 / N_DISKS) for disk, body in enumerate(self.disks)]

    def slot(self, peg: int, level: int) -> np.ndarray:
        """The pose of a disk resting ``level`` disks up peg ``peg``."""
        return self.stand @ planar_pose(0.0, PEG_Y[peg], slot_height(level), 0.0)

    def disk_pegs(self, world) -> tuple:
        """Each disk's peg (smallest first), None when it is not in its slot there: largest first,
        a disk's slot being on the larger disks already found on that peg."""
        observed: list[int | None] = [None] * N_DISKS
        for disk in reversed(range(N_DISKS)):
            T = world.pose_of(self.disks[disk])
            for peg in range(len(PEG_Y)):
                level = observed[disk + 1:].count(peg)
                if near(T, self.slot(peg, level), ANY_YAW):
                    observed[disk] = peg
        return tuple(observed)

    def reward(self, world) -> float:
        """Progress along an optimal solution: 1 - moves left / 7 (a disk off the pegs where it
        leaves the most)."""
        return 1.0 - worst_moves_left(self.disk_pegs(world)) / TOTAL_MOVES

    def ravens_reward(self, world, goals=None) -> float:
        """Ravens credits each move of the solution; progress along it is the nearest measure that
        goes by the state (``goals``, the final disk poses, are not Ravens' moves)."""
        return self.reward(world)

    def oracle(self, world) -> tuple[np.ndarray, np.ndarray]:
        """The next move of an optimal solution from the current state; a disk off the pegs first."""
        observed = self.disk_pegs(world)
        disk, peg = next_move(observed, [world.pose_of(body)[2, 3] for body in self.disks])
        level = sum(1 for other, on in enumerate(observed) if on == peg and other != disk)
        return self.move(world, disk, self.slot(peg, level))

    def move(self, world, disk: int, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pick ``disk`` on its ring, on the side away from the nearest peg, and put it at
        ``target`` without turning it."""
        T = world.pose_of(self.disks[disk])
        pegs = [self.slot(peg, 0)[:2, 3] for peg in range(len(PEG_Y))]
        away = T[:2, 3] - min(pegs, key=lambda q: np.linalg.norm(T[:2, 3] - q))
        if np.linalg.norm(away) < 1e-3:  # centred on the peg: any side will do, the stand's x
            away = self.stand[:2, 0]
        away = away / np.linalg.norm(away)
        offset = np.append(pick_radius(disk) * away, DISK_THICKNESS / 2)
        pick = T[:3, 3] + offset
        place = target[:3, 3] + offset
        return np.append(pick, 0.0), np.append(place, 0.0)


def let_sleep(world, body: int) -> None:
    """Let the disk sleep when at rest, and put it to sleep now: it starts at rest in its slot.
    Stacked disks are dear to simulate (two rings touch in 240 contact points, some 3 ms a physics
    step); asleep they cost nothing, which takes a quarter off an episode. A body that moves and
    touches a sleeping disk wakes it; a held disk shares the tool's island, which never sleeps."""
    p.changeDynamics(body, -1, activationState=p.ACTIVATION_STATE_ENABLE_SLEEPING, physicsClientId=world.client)
    p.changeDynamics(body, -1, activationState=p.ACTIVATION_STATE_SLEEP, physicsClientId=world.client)


def pick_radius(disk: int) -> float:
    return assets.HANOI_DISK_RADII[disk] - RIM_INSET


def next_move(observed: tuple, heights: list[float]) -> tuple[int, int]:
    """``(disk, peg)``: the highest disk off the pegs onto the peg that leaves the fewest moves, or
    else the first move that brings the tower one move nearer the goal."""
    loose = [disk for disk, peg in enumerate(observed) if peg is None]
    if loose:
        disk = max(loose, key=lambda d: heights[d])
        legal = [peg for peg in range(len(PEG_Y)) if peg not in observed[:disk]]
        return disk, min(legal, key=lambda peg: worst_moves_left((*observed[:disk], peg, *observed[disk + 1:])))
    left = moves_left()
    for disk, peg, after in neighbours(observed):
        if left[after] < left[observed]:
            return disk, peg
    top = next(disk for disk, peg in enumerate(observed) if peg == GOAL_PEG)  # done: the top disk stays
    return top, GOAL_PEG
