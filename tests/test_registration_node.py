"""registration_node as its own process over DDS: model mode returns the known pose;
odometry mode chains scan-to-scan motions into the sensor's pose; bad clouds are
rejected and counted while the node keeps working."""

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TransformStamped
from sensor_msgs.msg import PointCloud2

from eqrobot import geometry as g
from eqrobot.geometry.types import PointCloud
from eqrobot.io.cloud_files import write_cloud
from eqrobot.io.samples import sample_surface
from eqrobot.perception.registration.data import load_mesh, raycast_view
from eqrobot.resources import share_file
from eqrobot.ros.convert import cloud_to_pointcloud2, pose_stamped_to_matrix
from eqrobot.ros.diagnostics import status_values
from eqrobot.ros.harness import NodeProcess

pytestmark = pytest.mark.ros
PARAMS = share_file("config/registration.yaml")


def test_model_mode_returns_the_pose_of_the_scan_in_the_reference_frame(tmp_path, ros_client, ros_env):
    mesh = load_mesh("bunny_scan")
    model, _ = sample_surface(mesh, 8000, seed=0)
    T_true = g.random_transforms(1, max_translation=0.5, seed=2)[0]
    view = g.apply(g.invert(T_true), raycast_view(mesh, np.array([1.5, 0.3, 0.5]), seed=2))
    reference = tmp_path / "reference.ply"
    write_cloud(reference, PointCloud(model))
    overrides = {"mode": "model", "reference_file": str(reference), "reference_frame": "part",
                 "diagnostics_period": 0.2, "input_reliability": "reliable"}
    with NodeProcess("eqrobot.ros.registration_node", PARAMS, overrides, env=ros_env) as node:
        pub = ros_client.publisher(PointCloud2, "points")
        poses = ros_client.collect(PoseStamped, "registration/pose")
        transforms = ros_client.collect(TransformStamped, "registration/transform")
        aligned = ros_client.collect(PointCloud2, "registration/aligned")
        diags = ros_client.collect(DiagnosticArray, "/diagnostics")
        assert ros_client.wait_for_subscribers(pub, timeout=60), node.output()

        scan = cloud_to_pointcloud2(PointCloud(view, frame_id="camera"))
        scan.header.stamp.sec = 5
        assert ros_client.publish_until(pub, scan, lambda: poses, 60, period=2.0), node.output()
        T = pose_stamped_to_matrix(poses[0])
        assert np.degrees(g.rotation_error(T, T_true)) < 3
        assert poses[0].header.frame_id == "part" and poses[0].header.stamp.sec == 5
        assert ros_client.spin_until(lambda: transforms and aligned, 10)
        assert transforms[0].child_frame_id == "camera"

        few = cloud_to_pointcloud2(np.random.default_rng(0).normal(size=(10, 3)))

        def rejected():
            return diags and status_values(diags[-1].status[0])["rejected"] != "0"

        assert ros_client.publish_until(pub, few, rejected, 20, period=1.0), node.output()
        assert "need at least" in status_values(diags[-1].status[0])["last_problem"]
        n = len(poses)
        assert ros_client.publish_until(pub, scan, lambda: len(poses) > n, 60, period=2.0)
        assert node.alive()


def test_model_mode_without_reference_fails_configuration_but_stays_up(ros_client, ros_env):
    with NodeProcess("eqrobot.ros.registration_node", PARAMS, {"mode": "model", "diagnostics_period": 0.2},
                     env=ros_env) as node:
        diags = ros_client.collect(DiagnosticArray, "/diagnostics")
        assert ros_client.spin_until(lambda: diags, 60), node.output()
        status = diags[-1].status[0]
        assert status.level == status.ERROR and "reference_file" in status.message
        assert node.alive()


def test_odometry_mode_accumulates_the_sensor_motion(ros_client, ros_env):
    """Three scans of a static object (each a fresh surface sample, in the moving sensor's
    frame): the pose published for the last scan is the sensor's motion since the first."""
    mesh = load_mesh("bunny_scan")
    axis = np.array([0.2, 0.3, 0.93]) / np.linalg.norm([0.2, 0.3, 0.93])
    step = g.make_transform(g.axis_angle_to_matrix(np.radians(12.0) * axis), np.array([0.05, -0.03, 0.02]))
    sensor_poses = [np.eye(4), step, g.compose(step, step)]
    scans = []
    for i, pose in enumerate(sensor_poses):
        points, _ = sample_surface(mesh, 6000, seed=10 + i)
        msg = cloud_to_pointcloud2(PointCloud(g.apply(g.invert(pose), points), frame_id="lidar"))
        msg.header.stamp.sec = i
        scans.append(msg)
    overrides = {"mode": "odometry", "reference_frame": "odom", "diagnostics_period": 0.2,
                 "input_reliability": "reliable"}
    with NodeProcess("eqrobot.ros.registration_node", PARAMS, overrides, env=ros_env) as node:
        pub = ros_client.publisher(PointCloud2, "points")
        poses = ros_client.collect(PoseStamped, "registration/pose")
        assert ros_client.wait_for_subscribers(pub, timeout=60), node.output()
        # A scan sent again is registered against itself (no motion), so resending is harmless.
        for i, scan in enumerate(scans):
            assert ros_client.publish_until(pub, scan, lambda i=i: any(p.header.stamp.sec == i for p in poses),
                                            60, period=2.0), node.output()
        last = next(p for p in poses if p.header.stamp.sec == 2)
        T = pose_stamped_to_matrix(last)
        assert last.header.frame_id == "odom"
        assert np.degrees(g.rotation_error(T, sensor_poses[2])) < 1.0
        assert np.linalg.norm(T[:3, 3] - sensor_poses[2][:3, 3]) < 0.01
        assert node.alive()
