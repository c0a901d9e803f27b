"""The inference-node base, run in-process over real DDS (own Context, private domain)."""

import time

import numpy as np
import pytest
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.srv import GetState
from rclpy.parameter import Parameter
from sensor_msgs.msg import PointCloud2

from eqrobot.ros.convert import cloud_to_pointcloud2, pointcloud2_to_xyz
from eqrobot.ros.diagnostics import status_values
from eqrobot.ros.node_base import InferenceNode, InputRejected, Param

pytestmark = pytest.mark.ros


class ScaleNode(InferenceNode):
    """Test node: scales clouds; rejects empty ones; fails on a marker value."""

    NAME = "scale_test_node"
    PARAMS = (
        Param("scale", 2.0, "factor applied to every point", min=0.0, max=10.0),
        Param("delay", 0.0, "seconds to sleep per message", min=0.0, max=5.0),
    )

    def setup(self) -> None:
        self.seen_stamps = []

    def create_interfaces(self) -> None:
        self.out = self.publisher(PointCloud2, "scaled")
        self.subscribe(PointCloud2, "points", self.on_points)

    def on_points(self, msg: PointCloud2) -> None:
        self.seen_stamps.append(msg.header.stamp.sec)
        xyz = pointcloud2_to_xyz(msg)
        if len(xyz) == 0:
            raise InputRejected("empty cloud")
        if xyz[0, 0] > 1000:
            raise RuntimeError("marker value hit")
        time.sleep(self.param("delay"))
        out = cloud_to_pointcloud2(xyz * self.param("scale"))
        out.header = self.output_header(msg.header)
        self.out.publish(out)


def start(client, **overrides) -> ScaleNode:
    params = [Parameter(k, value=v) for k, v in overrides.items()]
    node = ScaleNode(context=client.context, parameter_overrides=params)
    client.executor.add_node(node)
    return node


def cloud(x0=0.0, stamp=1, n=10):
    pts = np.random.default_rng(0).normal(size=(n, 3))
    if n:
        pts[0, 0] = x0
    msg = cloud_to_pointcloud2(pts)
    msg.header.frame_id = "sensor"
    msg.header.stamp.sec = stamp
    return msg, pts


def connect(client, node):
    """Publisher to the node's input, used once discovery has completed on both sides."""
    pub = client.publisher(PointCloud2, "points")
    assert client.wait_for_subscribers(pub)
    assert client.publish_until(pub, cloud(stamp=0)[0], lambda: node.seen_stamps, 10)
    node.seen_stamps.clear()
    node.stats.processed = 0
    return pub


def last_status(diags) -> DiagnosticStatus:
    return diags[-1].status[0]


def test_processes_and_keeps_the_input_header(ros_client):
    node = start(ros_client)
    out = ros_client.collect(PointCloud2, "scaled")
    pub = connect(ros_client, node)
    ros_client.spin_for(0.2)
    out.clear()
    msg, pts = cloud(stamp=17)
    pub.publish(msg)
    assert ros_client.spin_until(lambda: out, 10)
    np.testing.assert_allclose(pointcloud2_to_xyz(out[0]), 2 * pts, atol=1e-5)
    assert out[0].header.frame_id == "sensor" and out[0].header.stamp.sec == 17
    assert node.stats.processed == 1
    node.destroy_node()


def test_bad_messages_are_rejected_counted_and_survived(ros_client):
    node = start(ros_client)
    pub = connect(ros_client, node)
    out = ros_client.collect(PointCloud2, "scaled")
    diags = ros_client.collect(DiagnosticArray, "/diagnostics")

    malformed, _ = cloud()
    malformed.row_step += 1
    pub.publish(malformed)
    assert ros_client.spin_until(lambda: node.stats.rejected == 1, 10)
    pub.publish(cloud(n=0)[0])
    assert ros_client.spin_until(lambda: node.stats.rejected == 2, 10)
    pub.publish(cloud(x0=5000.0)[0])
    assert ros_client.spin_until(lambda: node.stats.errors == 1, 10)
    assert "marker value hit" in node.stats.last_problem

    def reported():
        return diags and status_values(last_status(diags))["errors"] == "1"

    assert ros_client.spin_until(reported, 5)
    status = last_status(diags)
    assert status_values(status)["rejected"] == "2"
    assert ros_client.publish_until(pub, cloud()[0], lambda: out, 10), "node stopped working after bad input"
    node.destroy_node()


def test_diagnostics_report_state_device_counts_and_latency(ros_client):
    node = start(ros_client, diagnostics_period=0.2)
    pub = connect(ros_client, node)
    diags = ros_client.collect(DiagnosticArray, "/diagnostics")
    for i in range(3):
        pub.publish(cloud(stamp=i)[0])
        ros_client.spin_until(lambda i=i: node.stats.processed == i + 1, 5)
    assert ros_client.spin_until(lambda: diags and status_values(last_status(diags))["processed"] == "3", 5)
    status = last_status(diags)
    values = status_values(status)
    assert status.level == DiagnosticStatus.OK
    assert status.name.startswith("/scale_test_node")
    assert values["state"] == "active" and values["device"] == "cpu" and status.hardware_id == "cpu"
    assert float(values["latency_p50_ms"]) > 0 and float(values["latency_p95_ms"]) >= float(values["latency_p50_ms"])
    node.destroy_node()


def test_only_the_newest_message_is_processed_when_busy(ros_client):
    node = start(ros_client)
    pub = connect(ros_client, node)
    node.set_parameters([Parameter("delay", value=0.5)])
    for i in range(1, 6):
        pub.publish(cloud(stamp=i)[0])
    time.sleep(0.3)  # let DDS deliver all five before the node takes any
    ros_client.spin_until(lambda: 5 in node.seen_stamps, 10)
    ros_client.spin_for(1.0)
    assert node.seen_stamps[-1] == 5
    assert len(node.seen_stamps) < 5, node.seen_stamps
    node.destroy_node()


def test_parameters_carry_descriptors_and_ranges(ros_client):
    node = start(ros_client)
    d = node.describe_parameter("scale")
    assert "factor" in d.description
    assert (d.floating_point_range[0].from_value, d.floating_point_range[0].to_value) == (0.0, 10.0)
    assert node.describe_parameter("device").read_only
    assert not node.set_parameters([Parameter("scale", value=50.0)])[0].successful
    assert node.set_parameters([Parameter("scale", value=3.0)])[0].successful
    node.destroy_node()


def test_invalid_device_choice_is_refused_at_start(ros_client):
    with pytest.raises(ValueError, match="device"):
        start(ros_client, device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_fails_configure_but_node_stays_up(ros_client):
    node = start(ros_client, device="cuda", diagnostics_period=0.2)
    diags = ros_client.collect(DiagnosticArray, "/diagnostics")
    assert ros_client.spin_until(lambda: diags, 5)
    status = last_status(diags)
    assert status.level == DiagnosticStatus.ERROR
    assert "CUDA is not available" in status.message
    assert status_values(status)["state"] == "unconfigured"
    node.destroy_node()


def test_lifecycle_without_autostart(ros_client):
    node = start(ros_client, autostart=False)
    pub = ros_client.publisher(PointCloud2, "points")
    out = ros_client.collect(PointCloud2, "scaled")

    get_state = ros_client.node.create_client(GetState, "/scale_test_node/get_state")
    assert get_state.wait_for_service(timeout_sec=10)

    def state_label() -> str:
        future = get_state.call_async(GetState.Request())
        ros_client.spin_until(future.done, 5)
        return future.result().current_state.label

    assert state_label() == "unconfigured"
    node.trigger_configure()
    assert state_label() == "inactive"
    # Inactive: subscribed but not processing.
    assert ros_client.wait_for_subscribers(pub)
    assert ros_client.publish_until(pub, cloud()[0], lambda: node.stats.ignored_inactive >= 1, 10)
    assert not out and node.stats.processed == 0
    node.trigger_activate()
    assert state_label() == "active"
    assert ros_client.publish_until(pub, cloud()[0], lambda: out, 10)
    node.trigger_deactivate()
    node.trigger_cleanup()
    assert state_label() == "unconfigured"
    node.destroy_node()
