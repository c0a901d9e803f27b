"""pose_node: an object's orientation (and, with depth, its position) from one camera image.

Subscribes ``image`` (sensor_msgs/Image: rgb8 | bgr8 | rgba8 | bgra8 | mono8), ``camera_info``
(sensor_msgs/CameraInfo, the latest is kept) and, optionally, ``depth`` (sensor_msgs/Image
registered to the colour camera: 32FC1 metres | 16UC1 in units of ``depth_scale``). Every
image is run through :class:`PosePredictor` (the shipped SO(3)-equivariant density model by
default) and published, with the image's header (its optical frame and stamp), as
``pose/estimate`` (geometry_msgs/PoseWithCovarianceStamped: the best orientation, the
rotation covariance, and the position when a depth image within ``depth_tolerance_s`` and a
camera_info are there), ``pose/modes`` (geometry_msgs/PoseArray, the ``modes`` most likely
distinct orientations, best first) and ``pose/markers`` (visualization_msgs/MarkerArray: the
axes of each mode). Optionally ``roi`` (sensor_msgs/RegionOfInterest, a detector's box): the
latest box younger than ``roi_timeout_s`` is where the object is (the square around it is
estimated, and with camera_info the orientation is turned back into the camera's frame); a box
of zero width or height clears it. Without a box the object must be in the middle.

Once a depth image has been received, an image without one of its stamp waits for it: it is
estimated when that depth image arrives, or without position when the next image comes first.
Bad images (another encoding, a data size that does not fit, smaller than 16 pixels a side, a
depth image or camera_info of another size) are warned about, counted in /diagnostics and
publish nothing; the node keeps running.

Run: ``python -m eqrobot.ros.pose_node --ros-args --params-file config/pose.yaml``
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import PoseArray, PoseWithCovarianceStamped
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest
from visualization_msgs.msg import MarkerArray

from eqrobot.perception.pose.predictor import PoseEstimate, PosePredictor, check_image, default_weights
from eqrobot.ros.convert import camera_info_to_intrinsics, image_to_array, stamp_to_ns, to_rgb
from eqrobot.ros.convert.pose_estimate import estimate_to_pose_with_covariance, mode_markers, modes_to_pose_array
from eqrobot.ros.node_base import InferenceNode, InputRejected, Param, run_node

COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
DEPTH_ENCODINGS = ("32FC1", "16UC1")
# Depth images kept to pair with a colour image of the same instant: a driver publishes the
# two separately, so the newest of each can be a frame apart.
SYNC_QUEUE = 5
MARKERS_NS = "pose/modes"


@dataclass
class Frame:
    """A colour image as received, already checked and in RGB order."""

    msg: Image
    rgb: np.ndarray
    stamp_ns: int


@dataclass
class Depth:
    """A depth image in metres (float32, 0 or NaN where there is none)."""

    metres: np.ndarray
    stamp_ns: int


class PoseNode(InferenceNode):
    NAME = "pose_node"
    PARAMS = (
        Param("weights", "", "pose weights (.safetensors); empty uses the shipped models/pose/pose-eq.safetensors",
              read_only=True),
        Param("modes", 5, "orientations published on pose/modes: distinct peaks of the density, best first",
              min=1, max=32, read_only=True),
        Param("depth_scale", 0.001, "metres per unit of a 16UC1 depth image (32FC1 is always metres)",
              min=1e-6, max=10.0),
        Param("depth_tolerance_s", 0.02, "largest stamp difference (s) of an image and the depth image it is "
              "paired with", min=0.0, max=10.0),
        Param("position_variance_m2", 0.01, "variance (m^2) on the position diagonal of pose/estimate when "
              "there is a position (the centre of the visible depth pixels); 1e6 when there is none",
              min=0.0, max=1e6),
        Param("depth_window_m", 0.0, "the position uses only depth within this distance (m) of the depth at the "
              "image centre, leaving out what is behind the object; 0 uses every depth pixel", min=0.0, max=100.0,
              read_only=True),
        Param("marker_length", 0.1, "length (m) of the best mode's axis arrows on pose/markers",
              min=0.001, max=100.0),
        Param("roi_timeout_s", 1.0, "a box on roi steers the estimate for this long after it arrives (a detector "
              "that stops publishing lets go); 0 keeps it until the next box", min=0.0, max=1e6),
    )

    def setup(self) -> None:
        weights = self.param("weights") or None
        self.predictor = PosePredictor(weights, device=self.device, modes=self.param("modes"),
                                       depth_window_m=self.param("depth_window_m") or None)
        meta = self.predictor.meta
        self.get_logger().info(f"pose weights {weights or default_weights()}: '{meta.get('kind')}' model, "
                               f"{meta.get('step')} training steps, {self.param('modes')} modes")
        self.depths: deque[Depth] = deque(maxlen=SYNC_QUEUE)
        self.info: CameraInfo | None = None
        self.depth_seen = False  # once true, an image waits (one frame at most) for its depth
        self.waiting: Frame | None = None
        self.roi: tuple[tuple[int, int, int, int], int] | None = None  # (x, y, width, height), receipt ns

    def warm_up(self) -> None:
        size = self.predictor.model.config.image_size
        K = np.array([[size, 0.0, size / 2], [0.0, size, size / 2], [0.0, 0.0, 1.0]])
        self.predictor(np.zeros((size, size, 3), np.uint8), np.ones((size, size), np.float32), K)

    def create_interfaces(self) -> None:
        self.estimate_pub = self.publisher(PoseWithCovarianceStamped, "pose/estimate")
        self.modes_pub = self.publisher(PoseArray, "pose/modes")
        self.markers_pub = self.publisher(MarkerArray, "pose/markers")
        self.subscribe(CameraInfo, "camera_info", self.on_info)
        self.subscribe(Image, "depth", self.on_depth)
        self.subscribe(Image, "image", self.on_image)
        self.subscribe(RegionOfInterest, "roi", self.on_roi)

    def teardown(self) -> None:
        self.predictor = None
        self.waiting = None
        self.depths.clear()

    # --- inputs --------------------------------------------------------------------

    def on_info(self, msg: CameraInfo) -> None:
        camera_info_to_intrinsics(msg)  # rejects a malformed K here, where it is noticed
        self.info = msg

    def on_depth(self, msg: Image) -> None:
        if msg.encoding not in DEPTH_ENCODINGS:
            raise InputRejected(f"depth: encoding '{msg.encoding}', expected one of {list(DEPTH_ENCODINGS)}")
        depth = image_to_array(msg)  # MessageError: data that does not fit the size
        scale = 1.0 if msg.encoding == "32FC1" else self.param("depth_scale")
        self.depths.append(Depth(depth.astype(np.float32) * np.float32(scale), stamp_to_ns(msg.header.stamp)))
        self.depth_seen = True
        if self.waiting is not None and self._close(self.waiting.stamp_ns, self.depths[-1].stamp_ns):
            frame, self.waiting = self.waiting, None
            self._estimate(frame, self.depths[-1])

    def on_roi(self, msg: RegionOfInterest) -> None:
        box = (msg.x_offset, msg.y_offset, msg.width, msg.height)
        self.roi = None if msg.width == 0 or msg.height == 0 else (box, self.get_clock().now().nanoseconds)

    def on_image(self, msg: Image) -> None:
        frame = self._frame(msg)  # InputRejected: nothing published, an earlier waiting image still waits
        earlier, self.waiting = self.waiting, None
        try:
            if earlier is not None:  # its depth never came
                self._estimate(earlier, None)
        finally:
            depth = self._depth_for(frame)
            if depth is None and self.depth_seen and self.info is not None:
                self.waiting = frame
            else:
                self._estimate(frame, depth)

    # --- estimation ----------------------------------------------------------------

    def _frame(self, msg: Image) -> Frame:
        if msg.encoding not in COLOR_ENCODINGS:
            raise InputRejected(f"image: encoding '{msg.encoding}', expected one of {list(COLOR_ENCODINGS)}")
        rgb = to_rgb(image_to_array(msg), msg.encoding)  # MessageError: data that does not fit the size
        try:
            check_image(rgb)
        except ValueError as e:
            raise InputRejected(f"image: {e}") from e
        return Frame(msg, rgb, stamp_to_ns(msg.header.stamp))

    def _close(self, a_ns: int, b_ns: int) -> bool:
        return abs(a_ns - b_ns) <= self.param("depth_tolerance_s") * 1e9

    def _depth_for(self, frame: Frame) -> Depth | None:
        """The kept depth image nearest in time to ``frame`` within the tolerance (None without camera_info:
        depth alone gives no position)."""
        if self.info is None:
            return None
        matches = [d for d in self.depths if self._close(d.stamp_ns, frame.stamp_ns)]
        return min(matches, key=lambda d: abs(d.stamp_ns - frame.stamp_ns)) if matches else None

    def _estimate(self, frame: Frame, depth: Depth | None) -> None:
        roi = self._box(frame)
        K = None
        if depth is not None or (roi is not None and self.info is not None):  # a box needs K to turn back
            info = self.info
            if (info.width, info.height) != (frame.msg.width, frame.msg.height):
                raise InputRejected(f"image is {frame.msg.width}x{frame.msg.height}, camera_info says "
                                    f"{info.width}x{info.height}")
            K = camera_info_to_intrinsics(info).K
        elif self.depth_seen and self.info is None:
            self.get_logger().warning("depth images arrive but no camera_info yet: estimates have no position",
                                      throttle_duration_sec=self.param("warn_throttle"))
        try:
            estimate = self.predictor(frame.rgb, None if depth is None else depth.metres, K, roi)
        except ValueError as e:  # a depth image of another size than the colour image
            raise InputRejected(f"depth: {e}") from e
        self._publish(frame.msg, estimate)

    def _box(self, frame: Frame) -> tuple[int, int, int, int] | None:
        """The latest box on roi unless it has timed out; ``InputRejected`` when it misses the image."""
        if self.roi is None:
            return None
        box, received_ns = self.roi
        timeout = self.param("roi_timeout_s")
        if timeout and self.get_clock().now().nanoseconds - received_ns > timeout * 1e9:
            return None
        x, y, width, height = box
        if x >= frame.msg.width or y >= frame.msg.height:
            raise InputRejected(f"roi: box at ({x}, {y}) lies outside the {frame.msg.width}x{frame.msg.height} image")
        return box

    def _publish(self, msg: Image, estimate: PoseEstimate) -> None:
        header = self.output_header(msg.header)
        frame, stamp, position = header.frame_id, header.stamp, estimate.translation
        self.estimate_pub.publish(estimate_to_pose_with_covariance(
            estimate.rotation, position, estimate.covariance, self.param("position_variance_m2"), frame, stamp))
        self.modes_pub.publish(modes_to_pose_array(estimate.modes, position, frame, stamp))
        self.markers_pub.publish(mode_markers(estimate.modes, estimate.mode_mass, position,
                                              self.param("marker_length"), frame, stamp, MARKERS_NS))
        self.get_logger().debug(describe(estimate))


def describe(estimate: PoseEstimate) -> str:
    where = ("no position" if estimate.translation is None
             else "at ({:.3f}, {:.3f}, {:.3f}) m".format(*estimate.translation))
    return (f"{len(estimate.modes)} modes, best holds {estimate.mode_mass[0]:.2f} of the mass, "
            f"uncertainty {estimate.uncertainty_deg:.1f} deg, {where}, in {1000 * estimate.time_s:.0f} ms")


def main(args=None) -> int:
    return run_node(PoseNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
