"""sensor_msgs/Image and CameraInfo <-> numpy."""

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, Image

from eqrobot.geometry.types import CameraIntrinsics
from eqrobot.ros.convert import (
    ENCODINGS,
    MessageError,
    array_to_image,
    camera_info_to_intrinsics,
    image_to_array,
    intrinsics_to_camera_info,
    to_rgb,
)
from eqrobot.ros.convert.header import byte_array

SHAPES = {1: (5, 7), 3: (5, 7, 3), 4: (5, 7, 4)}


def sample(encoding, seed=0):
    base, channels = ENCODINGS[encoding]
    rng = np.random.default_rng(seed)
    if base == "f4":
        return rng.normal(size=SHAPES[channels]).astype(np.float32)
    return rng.integers(0, np.iinfo(base).max, SHAPES[channels], endpoint=True).astype(base)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "16UC1", "32FC1"])
def test_round_trip_every_encoding(encoding):
    img = sample(encoding)
    msg = array_to_image(img, encoding, frame_id="camera")
    back = deserialize_message(serialize_message(msg), Image)
    np.testing.assert_array_equal(image_to_array(back), img)
    assert back.encoding == encoding and back.header.frame_id == "camera"


@pytest.mark.parametrize("encoding", ["rgb8", "mono16", "32FC1"])
def test_step_padding(encoding):
    img = sample(encoding, seed=1)
    msg = array_to_image(img, encoding)
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
    pad = 5  # deliberately not a multiple of the pixel size
    msg.data = byte_array(np.concatenate([rows, np.full((msg.height, pad), 0xEE, np.uint8)], axis=1))
    msg.step += pad
    np.testing.assert_array_equal(image_to_array(msg), img)


def test_big_endian_depth():
    depth = sample("16UC1")
    msg = Image(height=5, width=7, encoding="16UC1", is_bigendian=1, step=14,
                data=byte_array(depth.astype(">u2")))
    out = image_to_array(msg)
    np.testing.assert_array_equal(out, depth)
    assert out.dtype.isnative


def test_native_images_are_views():
    msg = array_to_image(sample("rgb8"), "rgb8")
    assert np.shares_memory(image_to_array(msg), np.frombuffer(msg.data, np.uint8))


def test_to_rgb():
    rgb = sample("rgb8")
    bgr = rgb[..., ::-1]
    np.testing.assert_array_equal(to_rgb(bgr, "bgr8"), rgb)
    np.testing.assert_array_equal(to_rgb(np.dstack([bgr, np.zeros((5, 7), np.uint8)]), "bgra8"), rgb)
    assert to_rgb(sample("mono8"), "mono8").shape == (5, 7, 3)


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda m: setattr(m, "encoding", "yuv422"), "Image.encoding"),
        (lambda m: setattr(m, "data", m.data[:-1]), "Image.data"),
        (lambda m: setattr(m, "step", 3), "Image.step"),
        (lambda m: (setattr(m, "height", 0), setattr(m, "data", byte_array(np.zeros(0, np.uint8)))),
         "Image.height"),
    ],
)
def test_malformed_images_name_the_field(change, field):
    msg = array_to_image(sample("rgb8"), "rgb8")
    change(msg)
    with pytest.raises(MessageError, match=field):
        image_to_array(msg)


def test_array_to_image_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="rgb8"):
        array_to_image(np.zeros((4, 4)), "rgb8")


def test_camera_info_round_trip():
    K = np.array([[450.0, 0, 320], [0, 450.0, 240], [0, 0, 1]])
    cam = CameraIntrinsics(K, 640, 480, distortion=[0.1, -0.2, 0, 0, 0.01], frame_id="cam")
    msg = deserialize_message(serialize_message(intrinsics_to_camera_info(cam)), CameraInfo)
    back = camera_info_to_intrinsics(msg)
    np.testing.assert_array_equal(back.K, K)
    assert (back.width, back.height, back.frame_id) == (640, 480, "cam")
    np.testing.assert_allclose(back.distortion, cam.distortion)
    assert back.fx == 450 and back.cy == 240


def test_camera_info_without_intrinsics_is_rejected():
    with pytest.raises(MessageError, match="CameraInfo"):
        camera_info_to_intrinsics(CameraInfo(width=640, height=480))
