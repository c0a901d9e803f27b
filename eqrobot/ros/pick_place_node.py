"""pick_place_node: the Transporter pick-and-place agent on one RGB-D camera or on a heightmap.

``input: camera`` (default): subscribes ``color/image_raw`` (Image, rgb8 | bgr8),
``depth/image_raw`` (Image, 32FC1 metres | 16UC1 in units of ``depth_scale``) and
``color/camera_info`` (CameraInfo). The camera's optical-frame pose in the workspace frame comes
from the parameters ``camera_position`` and ``camera_orientation``. ``input: heightmap``: for
a robot that fuses its own cameras, subscribes ``heightmap/color`` (rgb8 | bgr8) and
``heightmap/height`` (32FC1, metres above the workspace's floor), both rows x cols of the
checkpoint's workspace (row along y, column along x: ``eqrobot.geometry.heightmap``).

The service ``pick_place/predict`` (std_srvs/Trigger) predicts on the newest colour + depth (or
height) pair (stamps within ``max_time_difference``) and publishes
``pick_place/poses`` (PoseArray [pick, place], yaw about z, in ``workspace_frame``) and
``pick_place/markers`` (MarkerArray). With ``predict_on_every_frame`` every new pair is
predicted on as well. Bad images are warned about, counted in /diagnostics and answered with
success false; the node keeps running.

Run: ``python -m eqrobot.ros.pick_place_node --ros-args --params-file config/pick_place.yaml``
"""

from __future__ import annotations

from collections import deque

import numpy as np
from geometry_msgs.msg import PoseArray
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import ColorRGBA
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from eqrobot.geometry.transforms import transform_from_quat
from eqrobot.policy.transporter.camera import act_from_rgbd, action_to_matrices, load_agent, resolve_checkpoint
from eqrobot.ros.convert import camera_info_to_intrinsics, image_to_array, matrices_to_pose_array, stamp_to_ns, to_rgb
from eqrobot.ros.node_base import InferenceNode, InputRejected, Param, run_node

COLOR_ENCODINGS = ("rgb8", "bgr8")
DEPTH_ENCODINGS = ("32FC1", "16UC1")
HEIGHT_ENCODINGS = ("32FC1",)
INPUTS = ("camera", "heightmap")
# Images kept per stream to find a colour and a depth image of the same instant: a driver
# publishes the two separately, so the newest of each can be one frame apart.
SYNC_QUEUE = 5
# Default camera pose: the Ravens front camera (eqrobot.sim.cameras), 0.75 m up, looking down at 45 deg.
FRONT_POSITION = [1.0, 0.0, 0.75]
FRONT_ORIENTATION = [-0.653281, -0.653281, 0.270598, 0.270598]


class PickPlaceNode(InferenceNode):
    NAME = "pick_place_node"
    PARAMS = (
        Param("ckpt", "", "transporter checkpoint (.safetensors); empty uses the shipped weights "
              "models/transporter/block-insertion.safetensors", read_only=True),
        Param("workspace_frame", "world", "frame of the camera pose and of the published poses"),
        Param("camera_position", FRONT_POSITION, "camera optical frame origin x, y, z (m) in the workspace frame"),
        Param("camera_orientation", FRONT_ORIENTATION,
              "camera optical frame (x right, y down, z forward) quaternion x, y, z, w in the workspace frame"),
        Param("depth_scale", 0.001, "metres per unit of a 16UC1 depth image (32FC1 is always metres)",
              min=1e-6, max=10.0),
        Param("max_time_difference", 0.02, "largest stamp difference (s) of a colour and a depth image of one frame",
              min=0.0, max=10.0),
        Param("predict_on_every_frame", False, "also predict and publish on every new colour + depth pair"),
        Param("input", "camera", "camera: colour + depth images and camera_info; heightmap: a top-down colour + "
              "height map of the checkpoint's workspace", choices=INPUTS, read_only=True),
    )

    def setup(self) -> None:
        if self.param("input") not in INPUTS:
            raise ValueError(f"input must be one of {list(INPUTS)}, got '{self.param('input')}'")
        self.heightmap_input = self.param("input") == "heightmap"  # read-only: fixed for the node's life
        self.topics = (("heightmap/color", "heightmap/height") if self.heightmap_input
                       else ("color/image_raw", "depth/image_raw"))
        path = resolve_checkpoint(self.param("ckpt"))
        self.agent = load_agent(path, self.device)
        meta = self.agent.meta
        self.get_logger().info(f"checkpoint {path}: agent '{meta.get('agent')}', task '{meta.get('task')}', "
                               f"{meta.get('step')} training steps")
        self.camera_pose()  # a bad pose fails configuration instead of every request
        self.colors: deque[Image] = deque(maxlen=SYNC_QUEUE)
        self.depths: deque[Image] = deque(maxlen=SYNC_QUEUE)
        self.info: CameraInfo | None = None
        self.last_stamp: int | None = None  # colour stamp of the last prediction (every-frame mode)
        self.last_action: dict = {}

    def warm_up(self) -> None:
        rows, cols = self.agent.workspace.shape
        self.agent.act({"color": np.zeros((rows, cols, 3), np.uint8), "height": np.zeros((rows, cols), np.float32)})

    def create_interfaces(self) -> None:
        self.poses_pub = self.publisher(PoseArray, "pick_place/poses")
        self.markers_pub = self.publisher(MarkerArray, "pick_place/markers")
        self.subscribe(Image, self.topics[0], self.on_color)
        self.subscribe(Image, self.topics[1], self.on_depth)
        if not self.heightmap_input:
            self.subscribe(CameraInfo, "color/camera_info", self.on_info)
        # Created last: the base class does not track services, teardown() destroys it.
        self.predict_srv = self.create_service(Trigger, "pick_place/predict", self.on_predict)

    def teardown(self) -> None:
        self.destroy_service(self.predict_srv)
        self.agent = None

    # --- inputs --------------------------------------------------------------------

    def on_color(self, msg: Image) -> None:
        # Kept even when bad, so that a request never silently uses an older frame.
        self.colors.append(msg)
        self._check_color(msg)
        self._predict_if_new()

    def on_depth(self, msg: Image) -> None:
        self.depths.append(msg)
        self._check_depth(msg)
        self._predict_if_new()

    def on_info(self, msg: CameraInfo) -> None:
        camera_info_to_intrinsics(msg)  # rejects a malformed K here, where it is noticed
        self.info = msg

    def on_predict(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        def predict_and_describe() -> str:
            self._predict(self._newest_frame())
            return describe(self.last_action)

        return self.answer_trigger(request, response, predict_and_describe)

    # --- prediction ----------------------------------------------------------------

    def _predict_if_new(self) -> None:
        if not self.param("predict_on_every_frame") or self._needs_info():
            return
        pair = self._matching_pair()
        if pair is not None and stamp_to_ns(pair[0].header.stamp) != self.last_stamp:
            self._predict(pair)

    def _newest_frame(self) -> tuple[Image, Image]:
        for topic, queue in zip(self.topics, (self.colors, self.depths), strict=True):
            if not queue:
                raise InputRejected(f"no image received on {topic} yet")
        if self._needs_info():
            raise InputRejected("no camera_info received on color/camera_info yet")
        pair = self._matching_pair()
        if pair is None:
            raise InputRejected(f"no colour and depth images within max_time_difference "
                                f"{self.param('max_time_difference')} s of each other")
        return pair

    def _matching_pair(self) -> tuple[Image, Image] | None:
        """The newest colour image with a depth image of (nearly) the same stamp, and that depth image."""
        tolerance = self.param("max_time_difference") * 1e9
        for color in reversed(self.colors):
            t = stamp_to_ns(color.header.stamp)
            for depth in reversed(self.depths):
                if abs(stamp_to_ns(depth.header.stamp) - t) <= tolerance:
                    return color, depth
        return None

    def _predict(self, pair: tuple[Image, Image]) -> None:
        color_msg, depth_msg = pair
        self.last_stamp = stamp_to_ns(color_msg.header.stamp)
        self._check_color(color_msg)
        self._check_depth(depth_msg)
        color = to_rgb(image_to_array(color_msg), color_msg.encoding)
        depth = image_to_array(depth_msg)
        if self.heightmap_input:
            self.last_action = self.agent.act({"color": color, "height": depth})
        else:
            scale = 1.0 if depth_msg.encoding == "32FC1" else self.param("depth_scale")
            self.last_action = act_from_rgbd(self.agent, color, depth, camera_info_to_intrinsics(self.info),
                                             self.camera_pose(), scale)
        self._publish(color_msg.header.stamp, action_to_matrices(self.last_action))

    def _needs_info(self) -> bool:
        return not self.heightmap_input and self.info is None

    def _check_color(self, msg: Image) -> None:
        self._check_image(msg, self.topics[0], COLOR_ENCODINGS)

    def _check_depth(self, msg: Image) -> None:
        self._check_image(msg, self.topics[1], HEIGHT_ENCODINGS if self.heightmap_input else DEPTH_ENCODINGS)

    def _check_image(self, msg: Image, topic: str, encodings: tuple[str, ...]) -> None:
        if msg.encoding not in encodings:
            raise InputRejected(f"{topic}: encoding '{msg.encoding}', expected one of {list(encodings)}")
        if self.heightmap_input:
            rows, cols = self.agent.workspace.shape
            if (msg.height, msg.width) != (rows, cols):
                raise InputRejected(f"{topic}: image is {msg.width}x{msg.height}, the checkpoint's workspace "
                                    f"heightmap is {cols}x{rows} (columns along x, rows along y)")
            return
        info = self.info
        if info is not None and (msg.width, msg.height) != (info.width, info.height):
            raise InputRejected(f"{topic}: image is {msg.width}x{msg.height}, color/camera_info says "
                                f"{info.width}x{info.height}")

    def camera_pose(self) -> np.ndarray:
        position = np.asarray(self.param("camera_position"), dtype=np.float64)
        quat = np.asarray(self.param("camera_orientation"), dtype=np.float64)
        if position.shape != (3,) or quat.shape != (4,) or not abs(np.linalg.norm(quat) - 1.0) < 1e-3:
            raise ValueError(f"camera_position must be [x, y, z] and camera_orientation a unit quaternion "
                             f"[x, y, z, w]; got {position.tolist()} and {quat.tolist()}")
        return transform_from_quat(quat / np.linalg.norm(quat), position)

    def _publish(self, stamp, matrices: np.ndarray) -> None:
        frame = self.param("workspace_frame")
        poses = matrices_to_pose_array(matrices, frame, stamp)
        self.poses_pub.publish(poses)
        self.markers_pub.publish(pick_place_markers(poses))


def pick_place_markers(poses: PoseArray) -> MarkerArray:
    """An arrow along each pose's x axis (its yaw): pick green, place blue."""
    colors = (ColorRGBA(r=0.1, g=0.8, b=0.1, a=1.0), ColorRGBA(r=0.1, g=0.3, b=0.9, a=1.0))
    markers = []
    for i, (name, pose, color) in enumerate(zip(("pick", "place"), poses.poses, colors, strict=True)):
        marker = Marker(header=poses.header, ns=f"pick_place/{name}", id=i, type=Marker.ARROW,
                        action=Marker.ADD, pose=pose, color=color)
        marker.scale.x, marker.scale.y, marker.scale.z = 0.06, 0.01, 0.01
        markers.append(marker)
    return MarkerArray(markers=markers)


def describe(action: dict) -> str:
    def one(name: str) -> str:
        x, y, z, yaw = action[name]
        return f"{name} ({x:.3f}, {y:.3f}, {z:.3f}) m, yaw {np.degrees(yaw):.0f} deg"

    return f"{one('pick')}; {one('place')}"


def main(args=None) -> int:
    return run_node(PickPlaceNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
