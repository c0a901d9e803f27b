"""Towers of Hanoi in real PyBullet (whole oracle episodes: test_sim_tasks.py): the reward is the progress along an
optimal solution read from the state (a legal detour keeps what the state deserves, putting disks
aside earns nothing), the oracle carries on from any state, and the task runs as a gymnasium
environment."""

from itertools import product

import gymnasium
import numpy as np
import pybullet as p
import pytest

import eqrobot.sim
from eqrobot.geometry.heightmap import RAVENS_BOUNDS
from eqrobot.geometry.rotations import matrix_to_quat
from eqrobot.sim.tasks import make_task
from eqrobot.sim.tasks.base import planar_pose
from eqrobot.sim.tasks.towers_of_hanoi import GOAL_PEG, MAX_STEPS, PEG_Y, moves_left, neighbours, next_move, pick_radius
from eqrobot.sim.world import World

TASK = "towers-of-hanoi"


def test_the_first_move_scores_a_seventh(env):
    _, info = env.reset(seed=2)
    assert info["reward"] == 0.0 and env.task.disk_pegs(env.world) == (0, 0, 0)
    _, reward, terminated, _, info = env.step(env.oracle_action())
    assert reward == pytest.approx(1 / 7) and info["reward"] == pytest.approx(1 / 7) and not terminated
    assert env.task.disk_pegs(env.world) == (GOAL_PEG, 0, 0)  # the smallest disk first, onto the goal peg


def test_after_a_legal_detour_the_oracle_goes_on_from_the_state(env):
    env.reset(seed=4)
    task, world = env.task, env.world
    # The policy puts the smallest disk onto the middle peg: legal, but still seven moves to go.
    pick, place = task.move(world, 0, task.slot(1, 0))
    _, reward, _, _, info = env.step({"pick": pick, "place": place})
    assert task.disk_pegs(world) == (1, 0, 0) and reward == 0.0 and info["reward"] == 0.0
    # The oracle takes it on to the goal peg, the first move of an optimal solution from there.
    action = env.oracle_action()
    smallest = world.pose_of(task.disks[0])[:2, 3]
    assert np.linalg.norm(action["pick"][:2] - smallest) == pytest.approx(pick_radius(0))  # on its ring
    assert np.linalg.norm(action["place"][:2] - task.slot(GOAL_PEG, 0)[:2, 3]) == pytest.approx(pick_radius(0))
    _, reward, _, _, info = env.step(action)
    assert task.disk_pegs(world) == (GOAL_PEG, 0, 0) and reward == pytest.approx(1 / 7)


def test_from_every_state_the_oracle_takes_the_fewest_legal_moves():
    left = moves_left()
    assert len(left) == 27 and left[(0, 0, 0)] == 7 and max(left.values()) == 7
    for state in product(range(len(PEG_Y)), repeat=3):
        for _ in range(left[state]):
            disk, peg = next_move(state, [0.0, 0.0, 0.0])
            moved = [(d, q) for d, q, _ in neighbours(state)]
            assert (disk, peg) in moved  # the top disk of a peg, onto no smaller one
            state = (*state[:disk], peg, *state[disk + 1:])
        assert state == (GOAL_PEG,) * 3


def put(world, body: int, T: np.ndarray) -> None:
    p.resetBasePositionAndOrientation(body, T[:3, 3].tolist(), matrix_to_quat(T[:3, :3]).tolist(),
                                      physicsClientId=world.client)


def arrange(world, task, state: tuple) -> None:
    """Put the disks (smallest first) on the pegs of ``state``, None: on the table beside the stand."""
    for disk in reversed(range(3)):
        peg = state[disk]
        if peg is None:
            T = task.stand @ planar_pose(0.15, 0.1 * (disk - 1), 0.0075, 0.0)
        else:
            T = task.slot(peg, sum(1 for larger in state[disk + 1:] if larger == peg))
        put(world, task.disks[disk], T @ planar_pose(0.0, 0.0, 0.0, 0.3 * disk))  # any yaw will do


def test_the_reward_is_the_progress_read_from_the_state():
    with World(seed=1) as world:
        task = make_task(TASK)
        task.reset(world, np.random.default_rng(1))
        assert task.reward(world) == 0.0
        # Along the optimal solution, and off it: (0, 0, 2) is three moves from the goal too.
        for state, left in (((2, 1, 0), 5), ((1, 1, 2), 3), ((0, 0, 2), 3), ((1, 0, 0), 7), ((2, 2, 2), 0)):
            arrange(world, task, state)
            assert task.disk_pegs(world) == state
            assert task.reward(world) == pytest.approx(1 - left / 7)
        # Two disks set aside on the table: they count where they leave the most moves (on peg 0).
        arrange(world, task, (None, None, 0))
        assert task.disk_pegs(world) == (None, None, 0) and task.reward(world) == 0.0
        # The largest disk set on the smallest one is off the pegs; the oracle moves it first.
        arrange(world, task, (GOAL_PEG, 1, None))
        put(world, task.disks[2], task.slot(GOAL_PEG, 1))
        assert task.disk_pegs(world) == (GOAL_PEG, 1, None)
        pick, place = task.oracle(world)  # onto peg 0, the only one without a smaller disk
        assert np.linalg.norm(pick[:2] - task.slot(GOAL_PEG, 1)[:2, 3]) == pytest.approx(pick_radius(2))
        assert np.linalg.norm(place[:2] - task.slot(0, 0)[:2, 3]) == pytest.approx(pick_radius(2))
        assert place[2] == pytest.approx(task.slot(0, 0)[2, 3] + 0.0075)  # the top of a disk on the slab


def test_scenes_keep_the_stand_in_the_workspace_and_the_pegs_in_reach():
    (x0, x1), (y0, y1), _ = RAVENS_BOUNDS
    for seed in range(20):
        with World(seed=seed) as world:
            task = make_task(TASK)
            task.reset(world, np.random.default_rng(seed))
            pegs = np.array([task.slot(peg, 0)[:2, 3] for peg in range(3)])
            # Where the other tasks' objects start (0.08 m inside the workspace): the arm places well there.
            assert np.all((pegs[:, 0] >= x0 + 0.08) & (pegs[:, 0] <= x1 - 0.08))
            assert np.all((pegs[:, 1] >= y0 + 0.08) & (pegs[:, 1] <= y1 - 0.08))
            for body in (p.getBodyUniqueId(i, physicsClientId=world.client)
                         for i in range(p.getNumBodies(physicsClientId=world.client))):
                low, high = np.array(p.getAABB(body, physicsClientId=world.client))[:, :2]
                if body != world.table:
                    assert np.all(low >= [x0, y0]) and np.all(high <= [x1, y1])  # the heightmap sees it all


def test_gymnasium_makes_towers_of_hanoi():
    assert eqrobot.sim.ENV_IDS[TASK] == "eqrobot/TowersOfHanoi-v0"
    env = gymnasium.make("eqrobot/TowersOfHanoi-v0")
    assert env.spec.max_episode_steps == make_task(TASK).max_steps == MAX_STEPS
    env.close()
