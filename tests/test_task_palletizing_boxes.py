"""Palletizing boxes in real PyBullet (whole oracle episodes: test_sim_tasks.py): each box in a slot earns an
eighth, any box fills any slot, a box beside or half on the pallet earns nothing, and the task runs
as a gymnasium environment."""

import warnings

import gymnasium
import numpy as np
import pybullet as p
import pytest
from gymnasium.utils.env_checker import check_env

import eqrobot.sim
from eqrobot.geometry.heightmap import RAVENS_BOUNDS
from eqrobot.geometry.rotations import matrix_to_quat
from eqrobot.sim.tasks import make_task
from eqrobot.sim.tasks.base import planar_pose, yaw_of
from eqrobot.sim.tasks.palletizing_boxes import BOX, MAX_STEPS, PALLET, slot_offsets
from eqrobot.sim.world import World

TASK = "palletizing-boxes"


def test_a_box_on_the_pallet_scores_an_eighth(env):
    env.reset(seed=2)
    _, reward, terminated, _, info = env.step(env.oracle_action())
    assert reward == pytest.approx(1 / 8) and info["reward"] == pytest.approx(1 / 8) and not terminated


def top_of(T: np.ndarray) -> np.ndarray:
    """The suction tip pose on the middle of the top of a box whose centre is at ``T``."""
    return np.array([T[0, 3], T[1, 3], T[2, 3] + BOX[2] / 2, yaw_of(T)])


def test_any_box_fills_any_slot_and_a_box_beside_the_pallet_earns_nothing(env):
    env.reset(seed=4)
    first, second = env.task.goals[:2]
    # The second box into the first slot: it counts.
    _, reward, _, _, _ = env.step({"pick": top_of(env.world.pose_of(second.body)), "place": top_of(first.target)})
    assert reward == pytest.approx(1 / 8)
    # The oracle fills the next slot with the first box.
    action = env.oracle_action()
    np.testing.assert_allclose(action["pick"][:2], env.world.pose_of(first.body)[:2, 3], atol=1e-3)
    np.testing.assert_allclose(action["place"][:2], second.target[:2, 3], atol=1e-3)
    # A box set on the table beside the pallet (2 cm from its edge) earns nothing.
    third = env.task.goals[2]
    beside = beside_the_pallet(env.task, [env.world.pose_of(g.body)[:2, 3] for g in env.task.goals[3:]])
    _, reward, terminated, _, info = env.step({"pick": top_of(env.world.pose_of(third.body)), "place": top_of(beside)})
    assert reward == 0.0 and info["reward"] == pytest.approx(1 / 8) and not terminated
    assert np.linalg.norm(env.world.pose_of(third.body)[:2, 3] - beside[:2, 3]) < 0.01  # it is there


def beside_the_pallet(task, others) -> np.ndarray:
    """A box's pose on the table 2 cm off the middle of a side of the pallet: of the four, the one
    furthest from the boxes ``others`` (x, y) that is 0.08 m inside the workspace."""
    (x0, x1), (y0, y1), _ = RAVENS_BOUNDS
    sides = [task.top @ planar_pose(np.cos(a) * (half + 0.02 + BOX[0] / 2), np.sin(a) * (half + 0.02 + BOX[0] / 2),
                                    BOX[2] / 2 - PALLET[2], 0.0)
             for a, half in zip(np.arange(4) * np.pi / 2, (PALLET[0] / 2, PALLET[1] / 2) * 2, strict=True)]
    inside = [T for T in sides if x0 + 0.08 <= T[0, 3] <= x1 - 0.08 and y0 + 0.08 <= T[1, 3] <= y1 - 0.08]
    return max(inside, key=lambda T: min(np.linalg.norm(T[:2, 3] - q) for q in others))


def move_box(world, body: int, T: np.ndarray) -> None:
    p.resetBasePositionAndOrientation(body, T[:3, 3].tolist(), matrix_to_quat(T[:3, :3]).tolist(),
                                      physicsClientId=world.client)


def test_only_a_box_in_a_slot_counts_turned_any_quarter():
    with World(seed=1) as world:
        task = make_task(TASK)
        task.reset(world, np.random.default_rng(1))
        goal = task.goals[0]
        for turn in (0.0, np.pi / 2, np.pi, -np.pi / 2):
            move_box(world, goal.body, goal.target @ planar_pose(0.0, 0.0, 0.0, turn))
            assert task.reward(world) == pytest.approx(1 / 8)
        # Half on the pallet (its centre over the pallet's edge), half out of its slot either way
        # or turned 30 deg, it does not.
        edge = planar_pose(-PALLET[0] / 2 - slot_offsets()[0][0], 0.0, 0.0, 0.0)
        for miss in (edge, planar_pose(BOX[0] / 2, 0.0, 0.0, 0.0), planar_pose(-BOX[0] / 2, 0.0, 0.0, 0.0),
                     planar_pose(0.0, 0.0, 0.0, np.radians(30))):
            move_box(world, goal.body, goal.target @ miss)
            assert task.reward(world) == 0.0


def test_scenes_keep_the_boxes_apart_off_the_pallet_and_the_slots_in_reach():
    (x0, x1), (y0, y1), _ = RAVENS_BOUNDS
    for seed in range(20):
        with World(seed=seed) as world:
            task = make_task(TASK)
            task.reset(world, np.random.default_rng(seed))
            assert len(task.goals) == 8 and all(set(g.candidates) == set(task.goals[0].candidates) for g in task.goals)
            starts = np.array([world.pose_of(g.body)[:2, 3] for g in task.goals])
            slots = np.array([g.target[:2, 3] for g in task.goals])
            # Where boxes start (0.08 m inside the workspace), so where the arm places well.
            assert np.all((slots[:, 0] >= x0 + 0.08) & (slots[:, 0] <= x1 - 0.08))
            assert np.all((slots[:, 1] >= y0 + 0.08) & (slots[:, 1] <= y1 - 0.08))
            gaps = np.linalg.norm(starts[:, None] - starts[None], axis=-1) + np.eye(len(starts))
            assert gaps.min() > np.hypot(*BOX[:2])  # apart, whichever way each is turned
            for g in task.goals:  # none starts on the pallet or against it
                assert not p.getClosestPoints(g.body, task.pallet, 0.005, physicsClientId=world.client)
            low, high = np.array(p.getAABB(task.pallet, physicsClientId=world.client))[:, :2]
            assert np.all(low >= [x0, y0]) and np.all(high <= [x1, y1])  # the heightmap sees the whole pallet


def test_gymnasium_makes_palletizing_boxes_and_check_env_passes():
    assert eqrobot.sim.ENV_IDS[TASK] == "eqrobot/PalletizingBoxes-v0"
    env = gymnasium.make("eqrobot/PalletizingBoxes-v0")
    assert env.spec.max_episode_steps == make_task(TASK).max_steps == MAX_STEPS
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*symmetric and normalized space")  # actions are metres
        check_env(env.unwrapped)
    env.close()
