"""sensor_msgs/PointCloud2 <-> numpy with real message classes."""

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import PointCloud2, PointField

from eqrobot.geometry.types import PointCloud
from eqrobot.ros.convert import (
    MessageError,
    cloud_to_pointcloud2,
    pointcloud2_to_array,
    pointcloud2_to_cloud,
    pointcloud2_to_xyz,
)
from eqrobot.ros.convert.header import byte_array

DT = {"f4": PointField.FLOAT32, "f8": PointField.FLOAT64, "u4": PointField.UINT32, "u1": PointField.UINT8,
      "i2": PointField.INT16, "u2": PointField.UINT16}


def raw_cloud(arr: np.ndarray, height: int, width: int, row_pad: int = 0, bigendian: bool = False,
              counts: dict | None = None) -> PointCloud2:
    """A PointCloud2 laid out exactly like the structured array ``arr`` (one row per ``width`` points)."""
    counts = counts or {}
    order = ">" if bigendian else "<"
    dt = np.dtype({"names": arr.dtype.names,
                   "formats": [np.dtype(order + arr.dtype.fields[n][0].base.str[1:]) if counts.get(n, 1) == 1
                               else (np.dtype(order + arr.dtype.fields[n][0].base.str[1:]), (counts[n],))
                               for n in arr.dtype.names],
                   "offsets": [arr.dtype.fields[n][1] for n in arr.dtype.names],
                   "itemsize": arr.dtype.itemsize})
    rows = arr.astype(dt).reshape(height, width)
    raw = np.frombuffer(rows.tobytes(), np.uint8).reshape(height, width * dt.itemsize)
    padded = np.concatenate([raw, np.full((height, row_pad), 0xAB, np.uint8)], axis=1)
    fields = [PointField(name=n, offset=dt.fields[n][1], datatype=DT[dt.fields[n][0].base.str[1:]],
                         count=counts.get(n, 1)) for n in dt.names]
    return PointCloud2(height=height, width=width, fields=fields, is_bigendian=bigendian,
                       point_step=dt.itemsize, row_step=width * dt.itemsize + row_pad,
                       data=byte_array(padded), is_dense=False)


def xyz_array(n, seed=0, dtype="f4", extra=()):
    rng = np.random.default_rng(seed)
    arr = np.zeros(n, dtype=[("x", dtype), ("y", dtype), ("z", dtype), *extra])
    for k in "xyz":
        arr[k] = rng.normal(size=n)
    return arr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_with_attributes(dtype):
    rng = np.random.default_rng(1)
    cloud = PointCloud(rng.normal(size=(500, 3)), frame_id="lidar", stamp_ns=1_700_000_000_123_456_789,
                       colors=rng.integers(0, 256, (500, 3)).astype(np.uint8),
                       normals=rng.normal(size=(500, 3)), intensity=rng.random(500).astype(np.float32))
    msg = cloud_to_pointcloud2(cloud, dtype=dtype)
    assert msg.height == 1 and msg.width == 500 and msg.is_dense
    assert [f.name for f in msg.fields] == ["x", "y", "z", "rgb", "intensity", "normal_x", "normal_y", "normal_z"]
    back = pointcloud2_to_cloud(msg)
    tol = 1e-6 if dtype == np.float32 else 0
    np.testing.assert_allclose(back.points, cloud.points, atol=tol * 10)
    np.testing.assert_array_equal(back.colors, cloud.colors)
    np.testing.assert_allclose(back.normals, cloud.normals, atol=1e-6)
    np.testing.assert_allclose(back.intensity, cloud.intensity)
    assert back.frame_id == "lidar" and back.stamp_ns == cloud.stamp_ns


def test_serialization_round_trip_keeps_every_byte():
    cloud = PointCloud(np.random.default_rng(2).normal(size=(1000, 3)), frame_id="base")
    msg = cloud_to_pointcloud2(cloud)
    wire = serialize_message(msg)
    back = deserialize_message(wire, PointCloud2)
    assert bytes(back.data) == bytes(msg.data)
    np.testing.assert_array_equal(pointcloud2_to_xyz(back), pointcloud2_to_xyz(msg))


def test_reading_is_zero_copy():
    msg = raw_cloud(xyz_array(64), 1, 64)
    arr = pointcloud2_to_array(msg)
    assert np.shares_memory(arr, np.frombuffer(msg.data, np.uint8))


def test_organized_cloud_with_nans_and_row_padding():
    arr = xyz_array(4 * 6, extra=(("intensity", "f4"),))
    arr["x"][[3, 10]] = np.nan
    arr["z"][17] = np.inf
    msg = raw_cloud(arr, height=4, width=6, row_pad=12)
    organized = pointcloud2_to_xyz(msg, organized=True)
    assert organized.shape == (4, 6, 3)
    np.testing.assert_array_equal(organized[1, 4], [np.nan, arr["y"][10], arr["z"][10]])
    dense = pointcloud2_to_xyz(msg)
    assert dense.shape == (21, 3) and np.isfinite(dense).all()
    kept = pointcloud2_to_xyz(msg, remove_nonfinite=False)
    assert kept.shape == (24, 3)
    np.testing.assert_allclose(kept[0], [arr["x"][0], arr["y"][0], arr["z"][0]], rtol=1e-6)
    cloud = pointcloud2_to_cloud(msg)
    assert len(cloud) == 21 and len(cloud.intensity) == 21


def test_big_endian_and_odd_layouts():
    arr = xyz_array(30, dtype="f8", extra=(("ring", "u2"), ("rgb", "u4")))
    arr["rgb"] = (10 << 16) | (20 << 8) | 30
    msg = raw_cloud(arr, 3, 10, row_pad=3, bigendian=True)
    xyz = pointcloud2_to_xyz(msg)
    np.testing.assert_array_equal(xyz, np.c_[arr["x"], arr["y"], arr["z"]])
    np.testing.assert_array_equal(pointcloud2_to_cloud(msg).colors, np.tile([10, 20, 30], (30, 1)))


def test_float_packed_rgb_keeps_its_bits():
    arr = xyz_array(5, extra=(("rgb", "u4"),))
    arr["rgb"] = (255 << 16) | (0 << 8) | 7
    msg = raw_cloud(arr, 1, 5)
    msg.fields[3].datatype = PointField.FLOAT32  # the PCL convention
    np.testing.assert_array_equal(pointcloud2_to_cloud(msg).colors[0], [255, 0, 7])


def test_field_with_count():
    arr = np.zeros(8, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("desc", "f4", (4,))])
    arr["desc"] = np.arange(32).reshape(8, 4)
    msg = raw_cloud(arr, 1, 8, counts={"desc": 4})
    np.testing.assert_array_equal(pointcloud2_to_array(msg)["desc"][0], arr["desc"])


def test_empty_cloud():
    msg = cloud_to_pointcloud2(np.zeros((0, 3)))
    assert pointcloud2_to_xyz(msg).shape == (0, 3)


def _bad(change):
    msg = raw_cloud(xyz_array(10), 2, 5)
    change(msg)
    return msg


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda m: setattr(m, "data", m.data[:-4]), "PointCloud2.data"),
        (lambda m: setattr(m, "row_step", m.row_step - 4), "PointCloud2.row_step"),
        (lambda m: setattr(m, "point_step", 0), "PointCloud2.point_step"),
        (lambda m: setattr(m.fields[1], "datatype", 42), r"PointCloud2.fields\[1\].datatype"),
        (lambda m: setattr(m.fields[2], "offset", 10), r"PointCloud2.fields\[2\].offset"),
        (lambda m: m.fields.append(PointField(name="y", offset=0, datatype=7, count=1)),
         r"PointCloud2.fields\[3\].name"),
        (lambda m: setattr(m, "fields", m.fields[:2]), "PointCloud2.fields"),
    ],
)
def test_malformed_messages_name_the_field(change, field):
    with pytest.raises(MessageError, match=field):
        pointcloud2_to_xyz(_bad(change))
