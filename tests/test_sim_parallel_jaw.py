"""The parallel-jaw option of the simulated arm, in real PyBullet: the fingers grasp, carry and
let go of a block, miss when nothing is between them, and the gymnasium tasks run with it."""

import gymnasium
import numpy as np
import pybullet as p
import pytest

import eqrobot.sim
from eqrobot import geometry as g
from eqrobot.geometry.rotations import rot_z
from eqrobot.sim.env import PickPlaceEnv
from eqrobot.sim.parallel_jaw import FINGER_OPEN, FINGERS, ParallelJawArm, grasp_yaws
from eqrobot.sim.tasks.base import yaw_of
from eqrobot.sim.world import World


@pytest.mark.parametrize("pick, place", [(0.3, 0.3 + np.pi / 4), (2.9, -2.9), (-1.0, 2.5), (0.0, np.pi)])
def test_grasp_yaws_keep_the_turn_and_grip_the_same_faces(pick, place):
    at_pick, at_place = grasp_yaws(pick, place)
    turn = np.angle(np.exp(1j * (place - pick)))
    assert at_place - at_pick == pytest.approx(turn)
    assert np.sin(at_pick - pick) == pytest.approx(0.0, abs=1e-9)  # a multiple of a half turn away
    assert abs(at_pick + turn / 2) <= np.pi / 2 + 1e-9  # the wrist stays within a half turn of its middle


def finger_openings(arm) -> list[float]:
    return [p.getJointState(arm.arm, f, physicsClientId=arm.client)[0] for f in FINGERS]


def test_the_jaw_grasps_a_block_carries_it_and_lets_go_turned():
    with World() as world:
        arm = ParallelJawArm(world.client)
        assert finger_openings(arm) == pytest.approx([FINGER_OPEN] * 2, abs=1e-3)
        block = world.add_box((0.04, 0.04, 0.04), g.make_transform(rot_z(0.3), [0.5, 0.1, 0.02]))
        world.step(50)
        closed_on = []
        close = arm.close
        arm.close = lambda ignore=(): closed_on.append((close(ignore), finger_openings(arm))) or closed_on[-1][0]
        assert arm.pick_and_place([0.5, 0.1, 0.04, 0.3], [0.45, -0.2, 0.04, 0.3 + np.pi / 4], ignore=(world.table,))
        (held, (left, right)), = closed_on
        # Closed on the block, 4 cm across: each finger stopped about 2 cm from the middle.
        assert held and left + right == pytest.approx(0.04, abs=0.004)
        T = world.pose_of(block)
        np.testing.assert_allclose(T[:3, 3], [0.45, -0.2, 0.02], atol=0.005)
        assert abs(np.degrees(yaw_of(T)) - np.degrees(0.3 + np.pi / 4)) < 3
        assert arm.held is None and arm.grip is None


def test_closing_on_nothing_is_a_missed_pick():
    with World() as world:
        arm = ParallelJawArm(world.client)
        block = world.add_box((0.04, 0.04, 0.04), g.make_transform(translation=[0.5, 0.1, 0.02]))
        world.step(50)
        assert not arm.pick_and_place([0.6, 0.3, 0.04, 0.0], [0.4, 0.3, 0.04, 0.0], ignore=(world.table,))
        assert arm.held is None
        np.testing.assert_allclose(world.pose_of(block)[:3, 3], [0.5, 0.1, 0.02], atol=1e-3)


def test_the_oracle_solves_place_red_in_green_with_the_jaw():
    env = gymnasium.make(eqrobot.sim.ENV_IDS["place-red-in-green"], gripper="parallel-jaw")
    assert isinstance(env.unwrapped.arm, type(None))  # built on reset
    for seed in (0, 2):
        env.reset(seed=seed)
        assert isinstance(env.unwrapped.arm, ParallelJawArm)
        terminated = truncated = False
        while not (terminated or truncated):
            _, _, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
        assert terminated and info["reward"] == pytest.approx(1.0)
    env.close()


def test_an_unknown_gripper_is_refused():
    with pytest.raises(ValueError, match="unknown gripper 'claw'; known: suction, parallel-jaw"):
        PickPlaceEnv("block-insertion", gripper="claw")
