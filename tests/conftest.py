"""Test-wide setup: a private ROS graph per test run (own domain id, localhost only),
so parallel runs on one machine never see each other's nodes."""

import os

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
