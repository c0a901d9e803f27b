"""cloud_filter_node as its own process, started with its params file, over DDS."""

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import PointCloud2

from eqrobot.geometry.cloud_filter import CloudFilterConfig, filter_cloud
from eqrobot.io.samples import sample_cloud
from eqrobot.resources import share_file
from eqrobot.ros.convert import cloud_to_pointcloud2, pointcloud2_to_cloud
from eqrobot.ros.diagnostics import status_values
from eqrobot.ros.harness import NodeProcess

pytestmark = pytest.mark.ros
PARAMS = share_file("config/cloud_filter.yaml")


def test_filters_a_real_scan_and_survives_a_malformed_one(ros_client, ros_env):
    scan = sample_cloud("bunny", 20_000, seed=1)
    expected = filter_cloud(scan, CloudFilterConfig(voxel_size=0.05))
    with NodeProcess("eqrobot.ros.cloud_filter_node", PARAMS,
                     {"voxel_size": 0.05, "diagnostics_period": 0.2}, env=ros_env) as node:
        pub = ros_client.publisher(PointCloud2, "points")
        out = ros_client.collect(PointCloud2, "points_filtered")
        diags = ros_client.collect(DiagnosticArray, "/diagnostics")
        assert ros_client.wait_for_subscribers(pub, timeout=30), node.output()

        msg = cloud_to_pointcloud2(scan)
        msg.header.frame_id, msg.header.stamp.sec = "lidar", 99
        assert ros_client.publish_until(pub, msg, lambda: out, 20), node.output()
        got = pointcloud2_to_cloud(out[0])
        assert got.frame_id == "lidar" and out[0].header.stamp.sec == 99
        order = np.lexsort(got.points.T)
        ref = np.lexsort(expected.points.T)
        np.testing.assert_allclose(got.points[order], expected.points[ref], atol=1e-5)
        assert got.normals is not None

        bad = cloud_to_pointcloud2(scan)
        bad.fields[0].datatype = 99

        def rejected():
            return diags and status_values(diags[-1].status[0])["rejected"] != "0"

        assert ros_client.publish_until(pub, bad, rejected, 10), node.output()
        assert "datatype" in status_values(diags[-1].status[0])["last_problem"]
        n = len(out)
        assert ros_client.publish_until(pub, msg, lambda: len(out) > n, 20), "node stopped after a malformed cloud"
        assert node.alive()
    assert "rejected" in node.output()  # the warning went to the log


def test_a_cloud_with_too_few_points_is_rejected_not_fatal(ros_client, ros_env):
    with NodeProcess("eqrobot.ros.cloud_filter_node", PARAMS, {"min_points": 100, "diagnostics_period": 0.2},
                     env=ros_env) as node:
        pub = ros_client.publisher(PointCloud2, "points")
        diags = ros_client.collect(DiagnosticArray, "/diagnostics")
        assert ros_client.wait_for_subscribers(pub, timeout=30), node.output()
        nan_cloud = cloud_to_pointcloud2(np.full((50, 3), np.nan))
        assert ros_client.publish_until(
            pub, nan_cloud, lambda: diags and status_values(diags[-1].status[0])["rejected"] != "0", 10), node.output()
        assert "need at least 100" in status_values(diags[-1].status[0])["last_problem"]
        assert node.alive()


def test_a_bad_parameter_file_stops_with_a_clear_message(tmp_path, ros_env):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cloud_filter_node:\n  ros__parameters:\n    device: gpu\n")
    with NodeProcess("eqrobot.ros.cloud_filter_node", bad, env=ros_env) as node:
        code = node.proc.wait(timeout=30)
    assert code != 0
    assert "device" in node.output() and "gpu" in node.output()


def test_out_of_range_parameter_is_refused(tmp_path, ros_env):
    with NodeProcess("eqrobot.ros.cloud_filter_node", PARAMS, {"voxel_size": -1.0}, env=ros_env) as node:
        code = node.proc.wait(timeout=30)
    assert code != 0
    assert "voxel_size" in node.output()
