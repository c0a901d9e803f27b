"""pick_place_node as its own process over DDS, on a real rendered camera image of a
block-insertion scene: the Trigger service publishes a pick and a place pose inside the
workspace, in the workspace frame; bad images are refused with the reason, counted, and the
node keeps answering. Plus the rclpy-free camera -> action core it adapts."""

import gymnasium
import numpy as np
import pytest
import torch
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from eqrobot.geometry.rotations import matrix_to_quat
from eqrobot.io.checkpoint import save_checkpoint
from eqrobot.policy.transporter.camera import (
    act_from_rgbd,
    action_to_matrices,
    camera_heightmap,
    load_agent,
    resolve_checkpoint,
)
from eqrobot.resources import share_file
from eqrobot.ros.convert import array_to_image, intrinsics_to_camera_info, pose_array_to_matrices
from eqrobot.ros.diagnostics import status_values
from eqrobot.ros.harness import NodeProcess
from eqrobot.sim import ENV_IDS
from eqrobot.sim.cameras import ravens_cameras, render

PARAMS = share_file("config/pick_place.yaml")
BLOCK_HEIGHT = 0.04


@pytest.fixture(scope="module")
def checkpoint():
    """The shipped equivariant block-insertion weights (10 demonstrations)."""
    return resolve_checkpoint("")


@pytest.fixture(scope="module")
def scene():
    """The front Ravens camera's view of a block-insertion test scene, and the oracle's action."""
    env = gymnasium.make(ENV_IDS["block-insertion"])
    try:
        env.reset(seed=1)
        view = render(ravens_cameras()[0], env.unwrapped.world.client)
        oracle = env.unwrapped.oracle_action()
    finally:
        env.close()
    return view, oracle


# --- the rclpy-free core ---------------------------------------------------------------

def test_one_camera_heightmap_sees_the_block_and_the_agent_acts_inside_the_workspace(checkpoint, scene):
    view, oracle = scene
    agent = load_agent(checkpoint, "cpu")
    heightmap = camera_heightmap(agent, view.color, view.depth, view.intrinsics, view.pose)
    row, col = agent.workspace.xy_to_pixel(oracle["pick"][:2])
    assert heightmap.seen.mean() > 0.9
    assert abs(heightmap.height[row, col] - BLOCK_HEIGHT) < 0.005  # the block's top, where the oracle picks
    depth_mm = np.round(view.depth * 1000).astype(np.uint16)  # a 16UC1 camera
    action = act_from_rgbd(agent, view.color, depth_mm, view.intrinsics, view.pose, depth_scale=0.001)
    bounds = agent.workspace.array
    for key in ("pick", "place"):
        assert np.all((action[key][:3] >= bounds[:, 0]) & (action[key][:3] <= bounds[:, 1])), action[key]
        # trained on three cameras' heightmaps, the shipped agent still finds the block and the slot with one
        assert np.linalg.norm(action[key][:2] - oracle[key][:2]) < 0.02, (key, action[key], oracle[key])


def test_a_camera_that_sees_nothing_of_the_workspace_is_refused(checkpoint, scene):
    view, _ = scene
    agent = load_agent(checkpoint, "cpu")
    looking_up = view.pose.copy()
    looking_up[:3, :3] = view.pose[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    with pytest.raises(ValueError, match="no depth pixel falls inside the workspace"):
        act_from_rgbd(agent, view.color, view.depth, view.intrinsics, looking_up)
    with pytest.raises(ValueError, match="depth image is"):
        act_from_rgbd(agent, view.color, view.depth[:-1], view.intrinsics, view.pose)


def test_checkpoints_that_are_missing_or_of_another_model_say_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_agent(tmp_path / "missing.safetensors")
    other = save_checkpoint(tmp_path / "descriptor.safetensors", {"w": torch.zeros(2)}, {"descriptor": {}})
    with pytest.raises(ValueError, match="not a transporter checkpoint"):
        load_agent(other)


def test_actions_become_poses_turned_by_their_yaw_about_z():
    T = action_to_matrices({"pick": [0.3, 0.1, 0.02, 0.0], "place": [0.5, -0.2, 0.04, np.pi / 2]})
    np.testing.assert_allclose(T[0, :3, 3], [0.3, 0.1, 0.02])
    np.testing.assert_allclose(T[1, :3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)


# --- the node over DDS -----------------------------------------------------------------

def frame_messages(view, stamp_sec: int, color_encoding: str = "rgb8") -> tuple[Image, Image, CameraInfo]:
    """Colour, 16UC1 millimetre depth and camera info of one instant, as a RealSense driver sends them."""
    color = view.color if color_encoding == "rgb8" else view.color.mean(axis=2).astype(np.uint8)
    color_msg = array_to_image(color, color_encoding, "camera_color_optical_frame")
    depth_msg = array_to_image(np.round(view.depth * 1000).astype(np.uint16), "16UC1", "camera_color_optical_frame")
    info = intrinsics_to_camera_info(view.intrinsics)
    for msg in (color_msg, depth_msg, info):
        msg.header.stamp.sec = stamp_sec
    return color_msg, depth_msg, info


@pytest.mark.ros
def test_trigger_predicts_on_a_rendered_camera_image_and_survives_bad_images(checkpoint, scene, ros_client, ros_env):
    view, oracle = scene
    position = view.pose[:3, 3].tolist()
    orientation = matrix_to_quat(view.pose[:3, :3]).tolist()
    # no ckpt override: the shipped weights
    overrides = {"device": "cpu", "workspace_frame": "table",
                 "camera_position": position, "camera_orientation": orientation,
                 "depth_scale": 0.001, "input_reliability": "reliable", "diagnostics_period": 0.2}
    with NodeProcess("eqrobot.ros.pick_place_node", PARAMS, overrides, env=ros_env) as node:
        pubs = [ros_client.publisher(Image, "color/image_raw"), ros_client.publisher(Image, "depth/image_raw"),
                ros_client.publisher(CameraInfo, "color/camera_info")]
        poses = ros_client.collect(PoseArray, "pick_place/poses")
        markers = ros_client.collect(MarkerArray, "pick_place/markers")
        diags = ros_client.collect(DiagnosticArray, "/diagnostics")
        predict = ros_client.node.create_client(Trigger, "pick_place/predict")
        # The service appears once the model is loaded and warmed up.
        assert ros_client.spin_until(predict.service_is_ready, 60), node.output()

        def call() -> Trigger.Response:
            future = predict.call_async(Trigger.Request())
            assert ros_client.spin_until(future.done, 30), node.output()
            return future.result()

        def send_until(frame, answered, timeout=30.0) -> Trigger.Response:
            """Publish the frame and ask until the answer says the node has seen it (the first
            messages after discovery can be missed while the match completes)."""
            assert all(ros_client.wait_for_subscribers(p, timeout=30) for p in pubs), node.output()
            for _ in range(int(timeout / 0.5)):
                for pub, msg in zip(pubs, frame, strict=True):
                    pub.publish(msg)
                ros_client.spin_for(0.3)
                response = call()
                if answered(response):
                    return response
            raise AssertionError(f"last answer: {response.message}\n{node.output()}")

        first = call()
        assert not first.success and "no image received" in first.message

        ok = send_until(frame_messages(view, 7), lambda r: r.success)
        assert "pick (" in ok.message
        assert ros_client.spin_until(lambda: poses and markers, 10), node.output()
        assert poses[-1].header.frame_id == "table" and poses[-1].header.stamp.sec == 7
        assert len(poses[-1].poses) == 2 and len(markers[-1].markers) == 2
        bounds = np.array([[0.25, 0.75], [-0.5, 0.5], [0.0, 0.28]])  # the checkpoint's (Ravens) workspace
        for T in pose_array_to_matrices(poses[-1]):
            assert np.all((T[:3, 3] >= bounds[:, 0]) & (T[:3, 3] <= bounds[:, 1])), T
            np.testing.assert_allclose(T[:3, 2], [0, 0, 1], atol=1e-9)  # yaw only: a turn about z
        pick_T, place_T = pose_array_to_matrices(poses[-1])
        assert np.linalg.norm(pick_T[:2, 3] - oracle["pick"][:2]) < 0.02  # on the block
        assert np.linalg.norm(place_T[:2, 3] - oracle["place"][:2]) < 0.02  # over the slot

        mono = send_until(frame_messages(view, 8, "mono8"), lambda r: "mono8" in r.message)
        assert not mono.success and "color/image_raw" in mono.message

        def counted_as_rejected():
            values = status_values(diags[-1].status[0]) if diags else {}
            return "mono8" in values.get("last_problem", "") and int(values["rejected"]) >= 1

        assert ros_client.spin_until(counted_as_rejected, 10), node.output()

        color, depth, info = frame_messages(view, 9)
        small = array_to_image(np.zeros((240, 320), np.uint16), "16UC1")
        small.header.stamp.sec = 9
        wrong_size = send_until((color, small, info), lambda r: "camera_info says" in r.message)
        assert not wrong_size.success and "320x240" in wrong_size.message

        n = len(poses)
        assert send_until(frame_messages(view, 10), lambda r: r.success).success
        assert ros_client.spin_until(lambda: len(poses) > n and poses[-1].header.stamp.sec == 10, 10)
        assert node.alive()


@pytest.mark.ros
def test_a_checkpoint_of_another_model_fails_configuration_but_stays_up(tmp_path, ros_client, ros_env):
    other = save_checkpoint(tmp_path / "descriptor.safetensors", {"w": torch.zeros(2)}, {"descriptor": {}})
    with NodeProcess("eqrobot.ros.pick_place_node", PARAMS, {"ckpt": str(other), "diagnostics_period": 0.2},
                     env=ros_env) as node:
        diags = ros_client.collect(DiagnosticArray, "/diagnostics")
        assert ros_client.spin_until(lambda: diags, 60), node.output()
        status = diags[-1].status[0]
        assert status.level == status.ERROR and "not a transporter checkpoint" in status.message
        assert node.alive()


@pytest.mark.ros
def test_predict_on_every_frame_publishes_for_each_new_colour_and_depth_pair(checkpoint, scene, ros_client, ros_env):
    view, _ = scene
    overrides = {"ckpt": str(checkpoint), "device": "cpu", "predict_on_every_frame": True,
                 "camera_position": view.pose[:3, 3].tolist(),
                 "camera_orientation": matrix_to_quat(view.pose[:3, :3]).tolist(), "input_reliability": "reliable"}
    with NodeProcess("eqrobot.ros.pick_place_node", PARAMS, overrides, env=ros_env) as node:
        pubs = [ros_client.publisher(CameraInfo, "color/camera_info"), ros_client.publisher(Image, "depth/image_raw"),
                ros_client.publisher(Image, "color/image_raw")]
        poses = ros_client.collect(PoseArray, "pick_place/poses")
        assert all(ros_client.wait_for_subscribers(p, timeout=60) for p in pubs), node.output()
        for stamp in (3, 4):
            color, depth, info = frame_messages(view, stamp)
            for _ in range(40):
                for pub, msg in zip(pubs, (info, depth, color), strict=True):
                    pub.publish(msg)
                if ros_client.spin_until(lambda s=stamp: any(p.header.stamp.sec == s for p in poses), 0.5):
                    break
            assert any(p.header.stamp.sec == stamp for p in poses), node.output()
        assert poses[-1].header.frame_id == "world" and len(poses[-1].poses) == 2
        # One prediction per frame: sending a frame again does not predict on it again.
        assert sum(p.header.stamp.sec == 3 for p in poses) == 1


@pytest.mark.ros
def test_heightmap_input_predicts_on_a_fused_heightmap_and_refuses_another_size(checkpoint, ros_client, ros_env):
    env = gymnasium.make(ENV_IDS["block-insertion"])
    try:
        obs, _ = env.reset(seed=3)
        oracle = env.unwrapped.oracle_action()
    finally:
        env.close()
    overrides = {"ckpt": str(checkpoint), "device": "cpu", "input": "heightmap", "predict_on_every_frame": True,
                 "input_reliability": "reliable", "diagnostics_period": 0.2}
    with NodeProcess("eqrobot.ros.pick_place_node", PARAMS, overrides, env=ros_env) as node:
        pubs = [ros_client.publisher(Image, "heightmap/height"), ros_client.publisher(Image, "heightmap/color")]
        poses = ros_client.collect(PoseArray, "pick_place/poses")
        diags = ros_client.collect(DiagnosticArray, "/diagnostics")
        assert all(ros_client.wait_for_subscribers(p, timeout=60) for p in pubs), node.output()

        def send(height, color, stamp, done) -> None:
            msgs = [array_to_image(height, "32FC1", "table"), array_to_image(color, "rgb8", "table")]
            for msg in msgs:
                msg.header.stamp.sec = stamp
            for _ in range(40):
                for pub, msg in zip(pubs, msgs, strict=True):
                    pub.publish(msg)
                if ros_client.spin_until(done, 0.5):
                    return
            raise AssertionError(node.output())

        send(obs["height"], obs["color"], 5, lambda: any(p.header.stamp.sec == 5 for p in poses))
        pick_T, place_T = pose_array_to_matrices(poses[-1])
        assert np.linalg.norm(pick_T[:2, 3] - oracle["pick"][:2]) < 0.02
        assert np.linalg.norm(place_T[:2, 3] - oracle["place"][:2]) < 0.02

        def rejected_size() -> bool:
            values = status_values(diags[-1].status[0]) if diags else {}
            return "the checkpoint's workspace heightmap is 160x320" in values.get("last_problem", "")

        send(obs["height"][:, :80], obs["color"][:, :80], 6, rejected_size)
        assert not any(p.header.stamp.sec == 6 for p in poses) and node.alive()
