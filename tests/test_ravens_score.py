"""The reward as Ravens keeps it (``RavensScore``): x-y-yaw pose test, goal steps in order with
a finished step's credit kept, and no credit lost once the episode's reward reached 1."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from eqrobot.geometry.rotations import matrix_to_quat
from eqrobot.sim.tasks.base import planar_pose
from eqrobot.sim.tasks.ravens_score import RavensScore

LIFT = planar_pose(0.0, 0.0, 0.03, 0.0)  # 3 cm up: resting on a rim, not in its place


def move(world, body: int, T: np.ndarray) -> None:
    p.resetBasePositionAndOrientation(body, T[:3, 3].tolist(), matrix_to_quat(T[:3, :3]).tolist(),
                                      physicsClientId=world.client)


def away(goal) -> np.ndarray:
    """Far from every target of the scene (a corner of the workspace)."""
    return planar_pose(0.3, -0.45, goal.target[2, 3], 0.0)


def test_ravens_pose_test_ignores_height_ours_does_not(task_world):
    world, task = task_world("block-insertion", 1)
    (goal,) = task.goals
    move(world, goal.body, goal.target @ LIFT)
    assert task.reward(world) == 0.0
    assert task.ravens_reward(world) == 1.0
    move(world, goal.body, goal.target @ planar_pose(0.0, 0.0, 0.0, np.radians(20)))  # in x and y, turned too far
    assert task.ravens_reward(world) == 0.0


def test_a_finished_pyramid_row_keeps_its_credit_and_later_rows_wait_for_it(task_world):
    world, task = task_world("stack-block-pyramid", 0)
    bottom, upper = task.goals[:3], task.goals[3:]
    score = RavensScore(task, world)
    move(world, upper[0].body, upper[0].target)  # a middle-row block before the bottom row: no credit yet
    move(world, bottom[0].body, bottom[0].target)
    assert score.update(world) == pytest.approx(1 / 6)
    for goal in bottom[1:]:
        move(world, goal.body, goal.target)
    assert score.update(world) == pytest.approx(1 / 2)  # the bottom row is finished
    assert score.update(world) == pytest.approx(2 / 3)  # the next action: the middle block now counts
    for goal in bottom:
        move(world, goal.body, away(goal))  # the bottom row knocked away: Ravens keeps its credit
    assert task.reward(world) == pytest.approx(1 / 6)
    assert score.update(world) == pytest.approx(2 / 3)


def test_the_score_stays_once_the_episode_is_done(task_world):
    world, task = task_world("block-insertion", 1)
    (goal,) = task.goals
    score = RavensScore(task, world)
    assert score.total == 0.0 and not score.done
    move(world, goal.body, goal.target @ LIFT)
    assert score.update(world) == 1.0 and score.done
    move(world, goal.body, away(goal))  # Ravens would have ended the episode before this
    assert score.update(world) == 1.0


def test_the_env_reports_ravens_reward_beside_its_own():
    from eqrobot.sim.env import PickPlaceEnv

    env = PickPlaceEnv("stack-block-pyramid")
    _, info = env.reset(seed=2)
    assert info["ravens_reward"] == 0.0
    _, reward, _, _, info = env.step(env.oracle_action())
    assert reward == pytest.approx(1 / 6) and info["ravens_reward"] == pytest.approx(1 / 6)
    env.close()
