"""sensor_msgs/Image and CameraInfo <-> numpy.

``image_to_array`` returns a view of ``msg.data`` when the byte order is native
(otherwise one byteswapped copy), honouring ``step`` padding. Channel order is the
encoding's own: ``bgr8`` stays BGR; use :func:`to_rgb` for RGB.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from eqrobot.geometry.types import CameraIntrinsics
from eqrobot.ros.convert.errors import MessageError
from eqrobot.ros.convert.header import byte_array, make_header

# encoding -> (numpy base type, channels)
ENCODINGS = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4),
    "mono8": ("u1", 1), "8UC1": ("u1", 1), "8UC3": ("u1", 3),
    "mono16": ("u2", 1), "16UC1": ("u2", 1), "32FC1": ("f4", 1),
}


def _encoding(encoding: str, msg_type: str = "Image") -> tuple[str, int]:
    if encoding not in ENCODINGS:
        raise MessageError(msg_type, "encoding", f"unsupported encoding '{encoding}'; supported: {sorted(ENCODINGS)}")
    return ENCODINGS[encoding]


def image_to_array(msg: Image) -> np.ndarray:
    """``(height, width)`` for one-channel encodings, ``(height, width, C)`` otherwise."""
    base, channels = _encoding(msg.encoding)
    h, w = int(msg.height), int(msg.width)
    dtype = np.dtype((">" if msg.is_bigendian else "<") + base)
    row_bytes = w * channels * dtype.itemsize
    if msg.step < row_bytes:
        raise MessageError("Image", "step", f"{msg.step} is less than width x channels x bytes = {row_bytes}")
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if buf.size != msg.step * h:
        raise MessageError(
            "Image", "data", f"expected step x height = {msg.step} x {h} = {msg.step * h} bytes, got {buf.size}")
    if h * w == 0:
        raise MessageError("Image", "height/width", f"image is empty ({w}x{h})")
    shape = (h, w, channels)
    strides = (msg.step, channels * dtype.itemsize, dtype.itemsize)
    if msg.step % dtype.itemsize:
        # A step that is not a multiple of the pixel type cannot be strided over: copy rows.
        rows = buf.reshape(h, msg.step)[:, :row_bytes].copy()
        img = rows.view(dtype).reshape(shape)
    else:
        img = np.ndarray(shape=shape, dtype=dtype, buffer=buf, strides=strides)
    if not dtype.isnative:
        img = img.astype(dtype.newbyteorder("="))
    return img[..., 0] if channels == 1 else img


def to_rgb(img: np.ndarray, encoding: str) -> np.ndarray:
    """Colour image in RGB channel order (drops alpha); mono images are repeated."""
    _encoding(encoding)
    if encoding in ("bgr8", "bgra8"):
        return img[..., 2::-1]
    if encoding in ("rgb8", "rgba8", "8UC3"):
        return img[..., :3]
    return np.repeat(img[..., None], 3, axis=-1)


def array_to_image(img: np.ndarray, encoding: str, frame_id: str = "", stamp=None) -> Image:
    """Build an Image (little-endian, no padding) from an array matching ``encoding``."""
    base, channels = _encoding(encoding)
    img = np.asarray(img)
    expected_ndim = 2 if channels == 1 else 3
    if img.ndim == 3 and channels == 1 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim != expected_ndim or (channels > 1 and img.shape[2] != channels):
        shape = "(H, W)" if channels == 1 else f"(H, W, {channels})"
        raise ValueError(f"array_to_image: '{encoding}' needs shape {shape}, got {img.shape}")
    data = np.ascontiguousarray(img, dtype=np.dtype("<" + base))
    h, w = data.shape[:2]
    return Image(
        header=make_header(frame_id, stamp=stamp), height=h, width=w, encoding=encoding,
        is_bigendian=0, step=w * channels * data.dtype.itemsize, data=byte_array(data),
    )


def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    K = np.asarray(msg.k, dtype=np.float64)
    if K.size != 9:
        raise MessageError("CameraInfo", "k", f"expected 9 values, got {K.size}")
    try:
        return CameraIntrinsics(
            K=K.reshape(3, 3), width=int(msg.width), height=int(msg.height),
            distortion=np.asarray(msg.d, dtype=np.float64), distortion_model=msg.distortion_model,
            frame_id=msg.header.frame_id,
        )
    except ValueError as e:
        raise MessageError("CameraInfo", "k/width/height", str(e)) from e


def intrinsics_to_camera_info(cam: CameraIntrinsics, stamp=None) -> CameraInfo:
    P = np.zeros((3, 4))
    P[:, :3] = cam.K
    return CameraInfo(
        header=make_header(cam.frame_id, stamp=stamp), width=cam.width, height=cam.height,
        distortion_model=cam.distortion_model, d=cam.distortion.tolist(), k=cam.K.ravel(),
        r=np.eye(3).ravel(), p=P.ravel(),
    )
