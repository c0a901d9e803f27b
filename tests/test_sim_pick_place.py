"""The simulated arm, the suction pick-and-place primitive, the block-insertion task and its
gymnasium environment, in real PyBullet."""

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import eqrobot.sim
from eqrobot import geometry as g
from eqrobot.sim.env import PickPlaceEnv
from eqrobot.sim.robot import SuctionArm
from eqrobot.sim.tasks import make_task
from eqrobot.sim.tasks.base import yaw_of
from eqrobot.sim.world import World


@pytest.fixture(scope="module")
def block_env():
    env = PickPlaceEnv("block-insertion")
    yield env
    env.close()


@pytest.mark.parametrize("target", [(0.33, 0.0, 0.04), (0.67, 0.42, 0.04), (0.67, -0.42, 0.04), (0.5, 0.0, 0.2)])
def test_the_arm_reaches_across_the_workspace(target):
    with World() as world:
        arm = SuctionArm(world.client)
        for yaw in (0.0, 1.2):
            arm.move_tip(target, yaw)
            assert np.linalg.norm(arm.tip_position() - target) < 0.005


def test_suction_picks_a_box_and_places_it_turned():
    with World() as world:
        arm = SuctionArm(world.client)
        box = world.add_box((0.04, 0.04, 0.04), g.make_transform(translation=[0.5, 0.1, 0.02]))
        world.step(50)
        assert arm.pick_and_place([0.5, 0.1, 0.04, 0.3], [0.45, -0.2, 0.04, 0.3 + np.pi / 4], ignore=(world.table,))
        T = world.pose_of(box)
        np.testing.assert_allclose(T[:3, 3], [0.45, -0.2, 0.02], atol=0.005)
        assert abs(np.degrees(yaw_of(T)) - 45) < 3
        assert arm.held is None
        # Nothing under the tool: nothing is picked, nothing breaks.
        assert not arm.pick_and_place([0.6, 0.3, 0.04, 0.0], [0.4, 0.3, 0.04, 0.0], ignore=(world.table,))


@pytest.mark.parametrize("seed", [0, 2, 4, 6])
def test_the_oracle_inserts_the_block(block_env, seed):
    obs, info = block_env.reset(seed=seed)
    assert info["reward"] == 0.0
    obs, reward, terminated, truncated, info = block_env.step(block_env.oracle_action())
    assert terminated and reward == pytest.approx(1.0) and not truncated


def test_a_missed_pick_scores_nothing_and_the_episode_goes_on(block_env):
    block_env.reset(seed=8)
    empty = np.array([0.3, -0.45, 0.02, 0.0])  # a table corner the scene leaves free
    _, reward, terminated, _, info = block_env.step({"pick": empty, "place": empty + [0.1, 0, 0, 0]})
    assert reward == 0.0 and not terminated and info["steps"] == 1
    _, reward, terminated, _, _ = block_env.step(block_env.oracle_action())
    assert terminated and reward == pytest.approx(1.0)


def test_the_observation_is_the_heightmap_and_repeats_with_the_seed(block_env):
    first, _ = block_env.reset(seed=10)
    again, _ = block_env.reset(seed=10)
    other, _ = block_env.reset(seed=12)
    assert first["color"].shape == (320, 160, 3) and first["height"].shape == (320, 160)
    np.testing.assert_array_equal(first["height"], again["height"])
    assert not np.array_equal(first["height"], other["height"])
    # The L block and the fixture stand 4 cm above the table; nothing else in the workspace does.
    assert first["height"].max() == pytest.approx(0.04, abs=0.003)
    assert 0.01 < (first["height"] > 0.02).mean() < 0.1


def test_gymnasium_make_and_check_env():
    assert eqrobot.sim.ENV_IDS["block-insertion"] == "eqrobot/BlockInsertion-v0"
    env = gymnasium.make("eqrobot/BlockInsertion-v0")
    assert env.spec.max_episode_steps == make_task("block-insertion").max_steps
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*symmetric and normalized space")  # actions are metres
        check_env(env.unwrapped)
    env.close()


def test_unknown_tasks_are_named():
    with pytest.raises(ValueError, match="unknown task 'stack-everything'; known: .*block-insertion"):
        make_task("stack-everything")
