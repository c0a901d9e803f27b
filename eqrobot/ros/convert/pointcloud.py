"""sensor_msgs/PointCloud2 <-> numpy.

Reading is a zero-copy structured view over ``msg.data`` (any field layout,
``row_step`` padding, big-endian, organized ``height x width`` clouds); the
per-field arrays are copied only when a field is extracted.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

from eqrobot.geometry.types import PointCloud
from eqrobot.ros.convert.errors import MessageError
from eqrobot.ros.convert.header import byte_array, make_header, stamp_to_ns

_MSG = "PointCloud2"
_DATATYPES = {
    PointField.INT8: "i1", PointField.UINT8: "u1",
    PointField.INT16: "i2", PointField.UINT16: "u2",
    PointField.INT32: "i4", PointField.UINT32: "u4",
    PointField.FLOAT32: "f4", PointField.FLOAT64: "f8",
}
_PACKED_COLOR_FIELDS = ("rgb", "rgba")
_NORMAL_FIELDS = ("normal_x", "normal_y", "normal_z")


def pointcloud2_dtype(msg: PointCloud2, packed_color_as_uint: bool = True) -> np.dtype:
    """Structured dtype of one point (``itemsize == point_step``).

    Packed colour fields (``rgb``/``rgba``, float32 by PCL convention) are read as
    uint32 so their bits survive.
    """
    if msg.point_step <= 0:
        raise MessageError(_MSG, "point_step", f"must be positive, got {msg.point_step}")
    order = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for i, f in enumerate(msg.fields):
        if f.datatype not in _DATATYPES:
            raise MessageError(_MSG, f"fields[{i}].datatype", f"unknown datatype {f.datatype} for field '{f.name}'")
        if f.name in names:
            raise MessageError(_MSG, f"fields[{i}].name", f"duplicate field '{f.name}'")
        code = _DATATYPES[f.datatype]
        if packed_color_as_uint and f.name in _PACKED_COLOR_FIELDS and code[1] == "4":
            code = "u4"
        count = max(int(f.count), 1)
        base = np.dtype(order + code)
        fmt = base if count == 1 else np.dtype((base, (count,)))
        if f.offset + fmt.itemsize > msg.point_step:
            raise MessageError(
                _MSG, f"fields[{i}].offset",
                f"field '{f.name}' ends at byte {f.offset + fmt.itemsize}, beyond point_step {msg.point_step}")
        names.append(f.name)
        formats.append(fmt)
        offsets.append(f.offset)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": msg.point_step})


def pointcloud2_to_array(msg: PointCloud2) -> np.ndarray:
    """Structured ``(height, width)`` array viewing ``msg.data`` (no copy)."""
    dtype = pointcloud2_dtype(msg)
    h, w = int(msg.height), int(msg.width)
    if msg.row_step < w * msg.point_step:
        raise MessageError(_MSG, "row_step", f"{msg.row_step} is less than width x point_step = {w * msg.point_step}")
    expected = msg.row_step * h
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if buf.size != expected:
        raise MessageError(
            _MSG, "data", f"expected row_step x height = {msg.row_step} x {h} = {expected} bytes, got {buf.size}")
    if h * w == 0:
        return np.zeros((h, w), dtype=dtype)
    return np.ndarray(shape=(h, w), dtype=dtype, buffer=buf, strides=(msg.row_step, msg.point_step))


def field_names(msg: PointCloud2) -> list[str]:
    return [f.name for f in msg.fields]


def _require(msg: PointCloud2, names) -> None:
    missing = [n for n in names if n not in field_names(msg)]
    if missing:
        raise MessageError(_MSG, "fields", f"missing {missing}; the cloud has {field_names(msg)}")


def _stack(arr: np.ndarray, names, dtype) -> np.ndarray:
    return np.stack([arr[n].astype(dtype, copy=False) for n in names], axis=-1)


def pointcloud2_to_xyz(
    msg: PointCloud2, remove_nonfinite: bool = True, organized: bool = False, dtype=np.float64
) -> np.ndarray:
    """``(N, 3)`` points (``(height, width, 3)`` with ``organized=True``, which keeps NaNs).

    With ``remove_nonfinite`` (the default for unorganized output) points with any
    NaN/Inf coordinate are dropped.
    """
    _require(msg, ("x", "y", "z"))
    xyz = _stack(pointcloud2_to_array(msg), ("x", "y", "z"), dtype)
    if organized:
        return xyz
    xyz = xyz.reshape(-1, 3)
    if remove_nonfinite:
        xyz = xyz[np.isfinite(xyz).all(axis=1)]
    return xyz


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """uint32 ``0x00RRGGBB`` (PCL packing) -> ``(..., 3)`` uint8 RGB."""
    packed = packed.astype(np.uint32, copy=False)
    return np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=-1).astype(np.uint8)


def pack_rgb(colors: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 RGB -> uint32 ``0x00RRGGBB``."""
    c = np.asarray(colors).astype(np.uint32)
    return (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]


def pointcloud2_to_cloud(msg: PointCloud2, remove_nonfinite: bool = True) -> PointCloud:
    """A :class:`PointCloud` with xyz and, when present, rgb/rgba, intensity and normals."""
    _require(msg, ("x", "y", "z"))
    arr = pointcloud2_to_array(msg).reshape(-1)
    names = field_names(msg)
    xyz = _stack(arr, ("x", "y", "z"), np.float64)
    keep = np.isfinite(xyz).all(axis=1) if remove_nonfinite else slice(None)
    color_field = next((n for n in _PACKED_COLOR_FIELDS if n in names), None)
    colors = unpack_rgb(arr[color_field][keep]) if color_field else None
    intensity = arr["intensity"][keep].astype(np.float32) if "intensity" in names else None
    normals = _stack(arr[keep], _NORMAL_FIELDS, np.float64) if set(_NORMAL_FIELDS) <= set(names) else None
    return PointCloud(
        xyz[keep], frame_id=msg.header.frame_id, stamp_ns=stamp_to_ns(msg.header.stamp),
        colors=colors, normals=normals, intensity=intensity,
    )


def cloud_to_pointcloud2(
    cloud: PointCloud | np.ndarray,
    frame_id: str | None = None,
    stamp=None,
    dtype=np.float32,
) -> PointCloud2:
    """An unorganized (``height == 1``) PointCloud2 with xyz plus the cloud's attributes.

    ``cloud`` may be a :class:`PointCloud` or an ``(N, 3)`` array. Colours are packed
    into a float32 ``rgb`` field (what RViz and PCL expect). ``stamp`` is a
    ``builtin_interfaces/Time``; by default the cloud's own ``stamp_ns``.
    """
    if not isinstance(cloud, PointCloud):
        cloud = PointCloud(np.asarray(cloud))
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"cloud_to_pointcloud2: dtype must be float32 or float64, got {dtype}")
    coord_type = PointField.FLOAT32 if dtype == np.float32 else PointField.FLOAT64

    layout = [(n, dtype, coord_type) for n in ("x", "y", "z")]
    if cloud.colors is not None:
        layout.append(("rgb", np.dtype(np.uint32), PointField.FLOAT32))
    if cloud.intensity is not None:
        layout.append(("intensity", np.dtype(np.float32), PointField.FLOAT32))
    if cloud.normals is not None:
        layout += [(n, np.dtype(np.float32), PointField.FLOAT32) for n in _NORMAL_FIELDS]

    rec = np.dtype([(n, "<" + dt.str[1:]) for n, dt, _ in layout])
    arr = np.empty(len(cloud), dtype=rec)
    for i, n in enumerate(("x", "y", "z")):
        arr[n] = cloud.points[:, i]
    if cloud.colors is not None:
        arr["rgb"] = pack_rgb(cloud.colors)
    if cloud.intensity is not None:
        arr["intensity"] = cloud.intensity
    if cloud.normals is not None:
        for i, n in enumerate(_NORMAL_FIELDS):
            arr[n] = cloud.normals[:, i]

    fields = [
        PointField(name=n, offset=rec.fields[n][1], datatype=t, count=1) for n, _, t in layout
    ]
    header = make_header(cloud.frame_id if frame_id is None else frame_id, stamp_ns=cloud.stamp_ns, stamp=stamp)
    return PointCloud2(
        header=header, height=1, width=len(cloud), fields=fields, is_bigendian=False,
        point_step=rec.itemsize, row_step=rec.itemsize * len(cloud), data=byte_array(arr),
        is_dense=bool(np.isfinite(cloud.points).all()),
    )
