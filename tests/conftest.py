"""Test-wide setup: a private ROS graph per test run (own domain id, localhost only),
so parallel runs on one machine never see each other's nodes."""

import os

import numpy as np
import pytest

os.environ["ROS_DOMAIN_ID"] = str(1 + os.getpid() % 100)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")


@pytest.fixture
def ros_env():
    """Environment for node subprocesses: the same private domain as this test process."""
    from eqrobot.ros.harness import isolated_ros_env

    return isolated_ros_env(int(os.environ["ROS_DOMAIN_ID"]))


@pytest.fixture
def ros_client():
    """A plain rclpy node with its own Context, shut down after the test."""
    from eqrobot.ros.harness import RosClient

    client = RosClient("eqrobot_test_client")
    yield client
    client.close()


@pytest.fixture
def task_world():
    """``task_world(task_name, seed) -> (world, task)``: a PyBullet world with the task's scene,
    built from the seed as the environment builds it; every world is closed after the test."""
    from eqrobot.sim.tasks import make_task
    from eqrobot.sim.world import World

    worlds = []

    def build(name: str, seed: int):
        world = World(seed=seed)
        worlds.append(world)
        task = make_task(name)
        task.reset(world, np.random.default_rng(seed))
        return world, task

    yield build
    for world in worlds:
        world.close()


@pytest.fixture(scope="module")
def env(request):
    """The simulated environment of the test module's ``TASK`` (one per module: building it is slow)."""
    from eqrobot.sim.env import PickPlaceEnv

    env = PickPlaceEnv(request.module.TASK)
    yield env
    env.close()
