"""pose_node as its own process over DDS with the shipped weights, on SYMSOL renders of a
tetrahedron: each image gets an orientation within a few degrees of one of the solid's
equivalent orientations, with the image's frame and stamp, its top modes and their markers;
with depth and camera_info also a position (a depth image that arrives after its image is
waited for); bad images are refused with the reason, counted, and the node keeps answering.
Plus the rclpy-free message helpers."""

import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray, PoseWithCovarianceStamped
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import Marker, MarkerArray

from eqrobot.geometry.rotations import geodesic_distance, random_rotations
from eqrobot.geometry.types import CameraIntrinsics
from eqrobot.resources import share_file
from eqrobot.ros.convert import array_to_image, intrinsics_to_camera_info, pose_array_to_matrices
from eqrobot.ros.convert.pose_estimate import (
    UNKNOWN_POSITION_VARIANCE,
    estimate_to_pose_with_covariance,
    mode_markers,
    modes_to_pose_array,
    pose_with_covariance_to_arrays,
)
from eqrobot.ros.diagnostics import status_values
from eqrobot.ros.harness import NodeProcess
from eqrobot.sim.symsol import DISTANCE, SymsolCamera, symmetries

PARAMS = share_file("config/pose.yaml")
SHAPE = "tet"
SIZE = 128
FRAME = "camera_color_optical_frame"
MODES = 3
POSITION_VARIANCE = 0.02
OVERRIDES = {"device": "cpu", "modes": MODES, "position_variance_m2": POSITION_VARIANCE,
             "input_reliability": "reliable", "diagnostics_period": 0.2}


@pytest.fixture(scope="module")
def renders():
    """Two orientations of the solid: (rotation, rgb, depth in metres), and the camera matrix."""
    with SymsolCamera(SIZE) as cam:
        views = [(R, *cam.render(SHAPE, R)) for R in random_rotations(2, seed=3)]
        return views, cam.intrinsics()


def error_deg(R_estimate: np.ndarray, R_true: np.ndarray) -> float:
    """Angle to the nearest orientation that looks the same as ``R_true``."""
    return math.degrees(geodesic_distance(R_estimate[None], R_true @ symmetries(SHAPE)).min())


def image_msg(rgb: np.ndarray, stamp: int, encoding: str = "rgb8") -> Image:
    msg = array_to_image(rgb[..., ::-1] if encoding == "bgr8" else rgb, encoding, FRAME)
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp, 500
    return msg


def depth_msg(depth: np.ndarray, stamp: int) -> Image:
    """16UC1 millimetres, as a RealSense publishes its aligned depth."""
    msg = array_to_image(np.round(depth * 1000).astype(np.uint16), "16UC1", FRAME)
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp, 500
    return msg


def info_msg(K: np.ndarray) -> CameraInfo:
    return intrinsics_to_camera_info(CameraIntrinsics(K, SIZE, SIZE, frame_id=FRAME))


# --- the rclpy-free helpers ------------------------------------------------------------

def test_estimate_message_holds_the_rotation_covariance_and_a_position_variance_only_with_a_position():
    R = random_rotations(1, seed=0)[0]
    rot_cov = np.diag([1e-3, 2e-3, 3e-3]) + 1e-4
    msg = estimate_to_pose_with_covariance(R, [0.1, -0.2, 4.5], rot_cov, 0.01, "cam", None)
    T, cov = pose_with_covariance_to_arrays(msg)
    np.testing.assert_allclose(T[:3, :3], R, atol=1e-9)
    np.testing.assert_allclose(T[:3, 3], [0.1, -0.2, 4.5])
    np.testing.assert_allclose(cov[:3, :3], np.eye(3) * 0.01)
    np.testing.assert_allclose(cov[3:, 3:], rot_cov)
    assert not cov[:3, 3:].any() and not cov[3:, :3].any() and msg.header.frame_id == "cam"

    T, cov = pose_with_covariance_to_arrays(estimate_to_pose_with_covariance(R, None, rot_cov, 0.01))
    np.testing.assert_allclose(T[:3, 3], 0.0)
    np.testing.assert_allclose(np.diag(cov)[:3], UNKNOWN_POSITION_VARIANCE)
    with pytest.raises(ValueError, match="finite 3x3"):
        estimate_to_pose_with_covariance(R, None, np.full((3, 3), np.nan), 0.01)


def test_modes_become_poses_and_axis_arrows_scaled_by_their_mass():
    Rs = random_rotations(2, seed=1)
    poses = modes_to_pose_array(Rs, [0.0, 0.0, 5.0], "cam")
    T = pose_array_to_matrices(poses)
    np.testing.assert_allclose(T[:, :3, :3], Rs, atol=1e-9)
    np.testing.assert_allclose(T[:, :3, 3], [[0, 0, 5]] * 2)

    markers = mode_markers(Rs, [0.1, 0.4], [0.0, 0.0, 5.0], 0.2, "cam").markers
    assert markers[0].action == Marker.DELETEALL and len(markers) == 1 + 3 * 2
    arrows = markers[1:]
    assert [m.id for m in arrows] == list(range(6)) and all(m.type == Marker.ARROW for m in arrows)
    for i, marker in enumerate(arrows):
        mode, axis = divmod(i, 3)
        start, tip = (np.array([p.x, p.y, p.z]) for p in marker.points)
        np.testing.assert_allclose(start, [0, 0, 5])
        # the heavier second mode gets the full length, the first a quarter of it
        np.testing.assert_allclose(tip - start, 0.2 * (0.25, 1.0)[mode] * Rs[mode][:, axis], atol=1e-12)
        assert marker.color.a == (1.0 if mode == 0 else pytest.approx(0.4))
    with pytest.raises(ValueError, match="2 rotations but 1 masses"):
        mode_markers(Rs, [1.0], None, 0.1)


# --- the node over DDS -----------------------------------------------------------------

class Outputs:
    """Everything the node publishes, and its /diagnostics."""

    def __init__(self, client) -> None:
        self.estimates = client.collect(PoseWithCovarianceStamped, "pose/estimate")
        self.modes = client.collect(PoseArray, "pose/modes")
        self.markers = client.collect(MarkerArray, "pose/markers")
        self.diags = client.collect(DiagnosticArray, "/diagnostics")

    def estimate(self, stamp: int) -> PoseWithCovarianceStamped | None:
        return next((e for e in self.estimates if e.header.stamp.sec == stamp), None)

    def problems(self) -> tuple[int, str]:
        values = status_values(self.diags[-1].status[0]) if self.diags else {}
        return int(values.get("rejected", 0)), values.get("last_problem", "")


def refused(client, node, outputs: Outputs, msgs: list, reason: str) -> None:
    """Publish ``[(publisher, message), ...]`` until /diagnostics counts one more rejection for
    ``reason``; no estimate comes for the image's stamp."""
    before = outputs.problems()[0]
    assert client.spin_until(lambda: outputs.diags, 10), node.output()

    def counted() -> bool:
        for pub, msg in msgs:
            pub.publish(msg)
        return client.spin_until(lambda: outputs.problems()[0] > before and reason in outputs.problems()[1], 0.5)

    assert client.spin_until(counted, 15), (outputs.problems(), node.output())
    client.spin_for(0.3)
    assert outputs.estimate(msgs[-1][1].header.stamp.sec) is None


def subscribed_publishers(ros_client, node, *topics) -> list:
    """A publisher per ``(message type, topic)``, returned once the node subscribes to each."""
    publishers = [ros_client.publisher(kind, topic) for kind, topic in topics]
    assert all(ros_client.wait_for_subscribers(p, timeout=60) for p in publishers), node.output()
    return publishers


@pytest.mark.ros
def test_images_get_their_orientation_modes_and_markers_and_bad_images_are_refused(renders, ros_client, ros_env):
    (R, rgb, _), (R2, rgb2, _) = renders[0]
    with NodeProcess("eqrobot.ros.pose_node", PARAMS, OVERRIDES, env=ros_env) as node:
        image_pub = ros_client.publisher(Image, "image")
        out = Outputs(ros_client)
        # subscriptions appear once the weights are loaded and warmed up
        assert ros_client.wait_for_subscribers(image_pub, timeout=60), node.output()
        assert ros_client.publish_until(image_pub, image_msg(rgb, 1), lambda: out.estimate(1), 20), node.output()

        estimate = out.estimate(1)
        assert estimate.header.frame_id == FRAME and estimate.header.stamp.nanosec == 500
        T, cov = pose_with_covariance_to_arrays(estimate)
        assert error_deg(T[:3, :3], R) < 5.0
        # no depth: no position, and a covariance that says so
        np.testing.assert_allclose(T[:3, 3], 0.0)
        np.testing.assert_allclose(np.diag(cov)[:3], UNKNOWN_POSITION_VARIANCE)
        rotation_cov = cov[3:, 3:]
        np.testing.assert_allclose(rotation_cov, rotation_cov.T)
        assert np.linalg.eigvalsh(rotation_cov).min() >= -1e-12 and np.trace(rotation_cov) < math.radians(20) ** 2

        assert ros_client.spin_until(lambda: any(m.header.stamp.sec == 1 for m in out.modes) and any(
            m.markers[0].header.stamp.sec == 1 for m in out.markers), 10), node.output()
        modes = next(m for m in out.modes if m.header.stamp.sec == 1)
        assert modes.header.frame_id == FRAME and len(modes.poses) == MODES
        np.testing.assert_allclose(pose_array_to_matrices(modes)[0], T, atol=1e-9)  # the best mode first
        markers = next(m for m in out.markers if m.markers[0].header.stamp.sec == 1).markers
        assert markers[0].action == Marker.DELETEALL and len(markers) == 1 + 3 * MODES
        assert all(m.header.frame_id == FRAME for m in markers)

        # bad images: nothing published for them, counted, and the node goes on
        refused(ros_client, node, out, [(image_pub, image_msg(rgb[..., 0].astype(np.uint16), 2, "16UC1"))],
                "encoding '16UC1'")
        truncated = image_msg(rgb, 3)
        truncated.data = truncated.data[: len(truncated.data) // 2]
        refused(ros_client, node, out, [(image_pub, truncated)], "Image.data")
        refused(ros_client, node, out, [(image_pub, image_msg(rgb[:8, :8], 4))], "too small")

        # the next good image (bgr8 this time) is answered
        assert ros_client.publish_until(image_pub, image_msg(rgb2, 5, "bgr8"), lambda: out.estimate(5), 20), \
            node.output()
        T, _ = pose_with_covariance_to_arrays(out.estimate(5))
        assert error_deg(T[:3, :3], R2) < 5.0
        assert out.problems()[0] >= 3 and node.alive()


@pytest.mark.ros
def test_depth_and_camera_info_give_a_position_and_a_depth_of_another_size_is_refused(renders, ros_client, ros_env):
    (R, rgb, depth), (R2, rgb2, depth2) = renders[0]
    K = renders[1]
    with NodeProcess("eqrobot.ros.pose_node", PARAMS, OVERRIDES, env=ros_env) as node:
        info_pub, depth_pub, image_pub = subscribed_publishers(
            ros_client, node, (CameraInfo, "camera_info"), (Image, "depth"), (Image, "image"))
        out = Outputs(ros_client)

        def with_position(stamp: int):
            e = out.estimate(stamp)
            return e if e is not None and e.pose.pose.position.z > 0 else None

        def send_frame() -> bool:
            info_pub.publish(info_msg(K))
            depth_pub.publish(depth_msg(depth, 1))
            image_pub.publish(image_msg(rgb, 1))
            return ros_client.spin_until(lambda: with_position(1), 0.5)

        assert ros_client.spin_until(send_frame, 20), node.output()
        T, cov = pose_with_covariance_to_arrays(with_position(1))
        assert error_deg(T[:3, :3], R) < 5.0
        # the centre of the visible surface: in front of the solid's centre, on the optical axis
        assert np.linalg.norm(T[:3, 3] - [0.0, 0.0, DISTANCE]) < 0.6 and 4.0 < T[2, 3] < DISTANCE, T[:3, 3]
        np.testing.assert_allclose(np.diag(cov)[:3], POSITION_VARIANCE)
        def modes_with_position() -> list:
            return [m for m in out.modes if m.header.stamp.sec == 1 and m.poses[0].position.z > 0]

        assert ros_client.spin_until(modes_with_position, 10), node.output()
        modes = modes_with_position()[0]
        np.testing.assert_allclose(pose_array_to_matrices(modes)[:, :3, 3], [T[:3, 3]] * MODES)

        # a depth image after its colour image: the image waits for it
        image_pub.publish(image_msg(rgb2, 2))
        ros_client.spin_for(0.5)
        assert out.estimate(2) is None, "an image was estimated without waiting for its depth"
        depth_pub.publish(depth_msg(depth2, 2))
        assert ros_client.spin_until(lambda: with_position(2), 10), node.output()
        T, _ = pose_with_covariance_to_arrays(with_position(2))
        assert error_deg(T[:3, :3], R2) < 5.0 and 4.0 < T[2, 3] < DISTANCE

        # a depth image of another size than the colour image is refused with the image
        small = array_to_image(depth[:64, :64], "32FC1", FRAME)
        small.header.stamp.sec, small.header.stamp.nanosec = 3, 500
        refused(ros_client, node, out, [(depth_pub, small), (image_pub, image_msg(rgb, 3))],
                "does not match the image")
        refused(ros_client, node, out, [(depth_pub, image_msg(rgb, 4))], "depth: encoding 'rgb8'")

        depth_pub.publish(depth_msg(depth, 5))
        image_pub.publish(image_msg(rgb, 5))
        assert ros_client.spin_until(lambda: with_position(5), 10), node.output()
        assert node.alive()


@pytest.mark.ros
def test_weights_of_another_model_fail_configuration_but_the_node_stays_up(ros_client, ros_env):
    other = share_file("models/navigation/mpvin-eq.safetensors")
    with NodeProcess("eqrobot.ros.pose_node", PARAMS, {"weights": str(other), "diagnostics_period": 0.2},
                     env=ros_env) as node:
        diags = ros_client.collect(DiagnosticArray, "/diagnostics")
        assert ros_client.spin_until(lambda: diags, 60), node.output()
        status = diags[-1].status[0]
        assert status.level == status.ERROR and "not a pose checkpoint" in status.message
        assert node.alive()


@pytest.mark.ros
def test_a_box_on_roi_steers_the_estimate_to_an_object_off_the_axis(renders, ros_client, ros_env):
    """The render pasted off the axis of a larger picture, its box on ``roi``: the node's answer
    is the centred estimate seen from the camera turned towards the box; a box off the image is
    refused, a zero box lets go."""
    from sensor_msgs.msg import RegionOfInterest

    from eqrobot.perception.pose.crop import turn_onto
    from eqrobot.perception.pose.predictor import PosePredictor

    (_, rgb, _), _ = renders[0]
    K = renders[1]
    canvas = np.full((240, 320, 3), 255, np.uint8)
    canvas[20:148, 170:298] = rgb
    wide = K.copy()
    wide[0, 2], wide[1, 2] = 160.0, 120.0
    ray = np.linalg.solve(wide, [234.0, 84.0, 1.0])
    expected = turn_onto(ray / np.linalg.norm(ray)) @ PosePredictor(device="cpu", modes=MODES)(rgb).rotation
    box = RegionOfInterest(x_offset=170, y_offset=20, width=128, height=128)
    with NodeProcess("eqrobot.ros.pose_node", PARAMS, {**OVERRIDES, "roi_timeout_s": 0.0}, env=ros_env) as node:
        info_pub, roi_pub, image_pub = subscribed_publishers(
            ros_client, node, (CameraInfo, "camera_info"), (RegionOfInterest, "roi"), (Image, "image"))
        out = Outputs(ros_client)

        def send(stamp: int, roi: RegionOfInterest) -> bool:
            info_pub.publish(intrinsics_to_camera_info(CameraIntrinsics(wide, 320, 240, frame_id=FRAME)))
            roi_pub.publish(roi)
            ros_client.spin_for(0.1)
            image_pub.publish(image_msg(canvas, stamp))
            return ros_client.spin_until(lambda: out.estimate(stamp), 0.5)

        assert ros_client.spin_until(lambda: send(1, box), 20), node.output()
        T, _ = pose_with_covariance_to_arrays(out.estimate(1))
        assert math.degrees(geodesic_distance(T[:3, :3], expected)) < 0.1

        roi_pub.publish(RegionOfInterest(x_offset=400, y_offset=20, width=50, height=50))
        ros_client.spin_for(0.3)
        refused(ros_client, node, out, [(image_pub, image_msg(canvas, 2))], "roi: box at (400, 20)")
        # a zero box: the centred square again (a white corner of the picture: some other answer)
        assert ros_client.spin_until(lambda: send(3, RegionOfInterest()), 20), node.output()
        T3, _ = pose_with_covariance_to_arrays(out.estimate(3))
        assert math.degrees(geodesic_distance(T3[:3, :3], expected)) > 1.0
        assert node.alive()
