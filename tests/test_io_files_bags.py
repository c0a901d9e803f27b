"""Point cloud files, rosbag2 bags of PointCloud2 (sqlite3 and mcap) and TUM trajectories."""

import warnings

import numpy as np
import open3d as o3d
import pytest
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import PointCloud2, PointField

from eqrobot.geometry.transforms import random_transforms
from eqrobot.geometry.types import PointCloud
from eqrobot.io.cloud_files import (
    CLOUD_EXTENSIONS,
    WRITABLE_EXTENSIONS,
    CloudFileError,
    read_cloud,
    write_cloud,
)
from eqrobot.io.trajectory import read_tum, write_tum
from eqrobot.ros.bags import POINTCLOUD2, BagError, iter_clouds, list_topics, write_cloud_bag
from eqrobot.ros.convert import cloud_to_pointcloud2, make_header
from eqrobot.ros.convert.header import byte_array

TYPESTORE = get_typestore(Stores.ROS2_KILTED)


def full_cloud(n=50, seed=0, stamp_ns=0, frame_id="lidar"):
    rng = np.random.default_rng(seed)
    normals = rng.normal(size=(n, 3))
    return PointCloud(
        rng.normal(size=(n, 3)), frame_id=frame_id, stamp_ns=stamp_ns,
        colors=rng.integers(0, 256, (n, 3), dtype=np.uint8),
        normals=normals / np.linalg.norm(normals, axis=1, keepdims=True),
        intensity=rng.random(n).astype(np.float32),
    )


def assert_error(excinfo, path, *words):
    message = str(excinfo.value)
    assert "\n" not in message and str(path) in message, message
    for word in words:
        assert word in message, message


# ------------------------------------------------------------------ cloud files

# extension -> (point tolerance, keeps normals, keeps colours, keeps intensity)
KEEPS = {
    ".ply": (0.0, True, True, False),
    ".pcd": (1e-6, True, True, False),  # Open3D writes PCD coordinates as float32
    ".xyz": (0.0, False, False, False),
    ".npy": (0.0, True, False, False),
    ".npz": (0.0, True, True, True),
}


@pytest.mark.parametrize("ext", WRITABLE_EXTENSIONS)
def test_write_read_round_trip_keeps_what_the_format_holds(tmp_path, ext):
    cloud = full_cloud()
    path = write_cloud(tmp_path / f"cloud{ext}", cloud)
    back = read_cloud(path, frame_id="map")
    atol, normals, colors, intensity = KEEPS[ext]
    np.testing.assert_allclose(back.points, cloud.points, rtol=0, atol=atol)
    assert back.frame_id == "map"
    if normals:
        np.testing.assert_allclose(back.normals, cloud.normals, rtol=0, atol=max(atol, 1e-12))
    else:
        assert back.normals is None
    if colors:
        assert back.colors.dtype == np.uint8
        np.testing.assert_array_equal(back.colors, cloud.colors)
    else:
        assert back.colors is None
    if intensity:
        np.testing.assert_array_equal(back.intensity, cloud.intensity)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_write_replaces_an_existing_file(tmp_path):
    path = tmp_path / "c.ply"
    write_cloud(path, full_cloud(10, seed=1))
    write_cloud(path, full_cloud(20, seed=2))
    assert len(read_cloud(path)) == 20 and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("ext", [".xyzn", ".pts"])
def test_read_only_text_formats(tmp_path, ext):
    cloud = full_cloud(30)
    o3d_cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.points))
    o3d_cloud.normals = o3d.utility.Vector3dVector(cloud.normals)
    o3d_cloud.colors = o3d.utility.Vector3dVector(cloud.colors / 255.0)
    path = tmp_path / f"c{ext}"
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        assert o3d.io.write_point_cloud(str(path), o3d_cloud)
    back = read_cloud(path)
    np.testing.assert_allclose(back.points, cloud.points, atol=1e-9)
    if ext == ".xyzn":
        np.testing.assert_allclose(back.normals, cloud.normals, atol=1e-9)
    else:
        np.testing.assert_array_equal(back.colors, cloud.colors)


@pytest.mark.parametrize("ascii_format", [False, True])
def test_mesh_ply_gives_its_vertices(tmp_path, ascii_format):
    mesh = o3d.geometry.TriangleMesh.create_box()
    path = tmp_path / "box.ply"
    o3d.io.write_triangle_mesh(str(path), mesh, write_ascii=ascii_format)
    np.testing.assert_allclose(read_cloud(path).points, np.asarray(mesh.vertices))


@pytest.mark.parametrize("ext", [".ply", ".npz", ".xyz"])
def test_nonfinite_points_are_dropped_with_their_attributes(tmp_path, ext):
    cloud = full_cloud(10)
    cloud.points[[2, 5], 0] = np.nan
    cloud.points[7, 2] = np.inf
    back = read_cloud(write_cloud(tmp_path / f"c{ext}", cloud))
    keep = np.isfinite(cloud.points).all(axis=1)
    np.testing.assert_array_equal(back.points, cloud.points[keep])
    if ext != ".xyz":
        np.testing.assert_array_equal(back.colors, cloud.colors[keep])
        np.testing.assert_array_equal(back.normals, cloud.normals[keep])


def test_npz_accepts_float_colours_and_integer_points(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, points=np.arange(6).reshape(2, 3), colors=np.array([[0, 0.5, 1], [1, 1, 1.0]]))
    back = read_cloud(path)
    assert back.points.dtype == np.float64
    np.testing.assert_array_equal(back.colors, [[0, 128, 255], [255, 255, 255]])


def test_missing_file(tmp_path):
    path = tmp_path / "nothing.ply"
    with pytest.raises(CloudFileError) as e:
        read_cloud(path)
    assert_error(e, path, "no such file")


@pytest.mark.parametrize("action", ["read", "write"])
def test_unknown_extension_lists_the_supported_ones(tmp_path, action):
    path = tmp_path / "cloud.las"
    path.write_bytes(b"x")
    with pytest.raises(CloudFileError) as e:
        read_cloud(path) if action == "read" else write_cloud(path, full_cloud(3))
    supported = CLOUD_EXTENSIONS if action == "read" else WRITABLE_EXTENSIONS
    assert_error(e, path, "unknown extension '.las'", *supported)


def ascii_file(tmp_path, ext, cloud):
    path = tmp_path / f"ascii{ext}"
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        o3d.io.write_point_cloud(str(path), o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.points)),
                                 write_ascii=True)
    return path


def corrupt_files(tmp_path):
    """name -> (path, words the error must contain)."""
    cloud = full_cloud(20)
    files = {}
    for ext in (".ply", ".pcd"):
        good = write_cloud(tmp_path / f"good{ext}", cloud).read_bytes()
        (tmp_path / f"truncated{ext}").write_bytes(good[:-30])
        files[f"truncated binary {ext}"] = (tmp_path / f"truncated{ext}", "truncated")
        text = ascii_file(tmp_path, ext, cloud).read_bytes()
        (tmp_path / f"truncated_ascii{ext}").write_bytes(text[: text.rfind(b"\n", 0, -1) - 200])
        files[f"truncated ascii {ext}"] = (tmp_path / f"truncated_ascii{ext}", "truncated")
        (tmp_path / f"garbage{ext}").write_bytes(b"\x00garbage\xff" * 10)
        files[f"garbage {ext}"] = (tmp_path / f"garbage{ext}", "corrupt")
    (tmp_path / "short.pts").write_text("5\n1 2 3\n4 5 6\n")
    files["short .pts"] = (tmp_path / "short.pts", "truncated")
    (tmp_path / "words.xyz").write_text("1 2 3\nx y z\n4 5 6\n")
    files["non-numeric .xyz line"] = (tmp_path / "words.xyz", "corrupt")
    (tmp_path / "garbage.npy").write_bytes(b"not numpy at all")
    files["garbage .npy"] = (tmp_path / "garbage.npy", "corrupt")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 broken zip")
    files["garbage .npz"] = (tmp_path / "garbage.npz", "corrupt")
    return files


def test_corrupt_and_truncated_files_are_refused(tmp_path):
    for name, (path, word) in corrupt_files(tmp_path).items():
        with pytest.raises(CloudFileError) as e:
            read_cloud(path)
        assert word in str(e.value), (name, str(e.value))
        assert_error(e, path)


def test_empty_clouds_are_refused(tmp_path):
    (tmp_path / "empty.xyz").write_text("\n\n")
    (tmp_path / "empty.ply").write_text(
        "ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\nproperty float z\nend_header\n")
    np.save(tmp_path / "empty.npy", np.zeros((0, 3)))
    np.savez(tmp_path / "empty.npz", points=np.zeros((0, 3)))
    for name in ("empty.xyz", "empty.ply", "empty.npy", "empty.npz"):
        with pytest.raises(CloudFileError) as e:
            read_cloud(tmp_path / name)
        assert_error(e, tmp_path / name, "empty cloud")
    with pytest.raises(CloudFileError) as e:
        write_cloud(tmp_path / "out.ply", PointCloud(np.zeros((0, 3))))
    assert_error(e, tmp_path / "out.ply", "empty cloud")
    assert not (tmp_path / "out.ply").exists()


def test_all_nonfinite_is_refused(tmp_path):
    path = tmp_path / "nan.npy"
    np.save(path, np.full((4, 3), np.nan))
    with pytest.raises(CloudFileError) as e:
        read_cloud(path)
    assert_error(e, path, "all 4 points are NaN/Inf")


@pytest.mark.parametrize(("name", "arrays", "words"), [
    ("wide.npy", np.zeros((5, 4)), ("wrong array shape (5, 4)", "(N, 3)")),
    ("flat.npy", np.zeros(9), ("wrong array shape (9,)",)),
    ("text.npy", np.array(["a", "b", "c"]).reshape(1, 3), ("dtype",)),
    ("nopoints.npz", {"xyz": np.zeros((3, 3))}, ("no 'points' array", "xyz")),
    ("badpoints.npz", {"points": np.zeros((3, 2))}, ("wrong array shape (3, 2) for 'points'",)),
    ("badnormals.npz", {"points": np.zeros((3, 3)), "normals": np.zeros((2, 3))}, ("'normals'",)),
    ("badcolors.npz", {"points": np.zeros((3, 3)), "colors": np.full((3, 3), 300)}, ("'colors'", "0..255")),
])
def test_wrong_arrays_are_refused(tmp_path, name, arrays, words):
    path = tmp_path / name
    if isinstance(arrays, dict):
        np.savez(path, **arrays)
    else:
        np.save(path, arrays)
    with pytest.raises(CloudFileError) as e:
        read_cloud(path)
    assert_error(e, path, *words)


# ------------------------------------------------------------------ bags

def organized_pointcloud2(height=4, width=5, row_pad=3, stamp_ns=0):
    """Big-endian organized cloud with row padding, NaN and Inf points: what a depth camera sends."""
    rng = np.random.default_rng(3)
    xyz = rng.normal(size=(height, width, 3)).astype(np.float32)
    xyz[0, 1] = np.nan
    xyz[2, 3, 2] = np.inf
    dtype = np.dtype({"names": ["x", "y", "z", "intensity"], "formats": [">f4"] * 4,
                      "offsets": [0, 4, 8, 16], "itemsize": 20})
    rows = np.zeros((height, width), dtype)
    for i, name in enumerate("xyz"):
        rows[name] = xyz[..., i]
    rows["intensity"] = np.arange(height * width).reshape(height, width)
    raw = np.frombuffer(rows.tobytes(), np.uint8).reshape(height, -1)
    padded = np.concatenate([raw, np.full((height, row_pad), 0xAB, np.uint8)], axis=1)
    fields = [PointField(name=n, offset=o, datatype=PointField.FLOAT32, count=1)
              for n, o in zip(dtype.names, (0, 4, 8, 16), strict=True)]
    msg = PointCloud2(header=make_header("camera", stamp_ns=stamp_ns), height=height, width=width, fields=fields,
                      is_bigendian=True, point_step=20, row_step=width * 20 + row_pad, data=byte_array(padded),
                      is_dense=False)
    return msg, xyz.reshape(-1, 3).astype(np.float64), rows["intensity"].reshape(-1)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_bag_round_trip(tmp_path, storage):
    with_nan = full_cloud(40, seed=1, stamp_ns=3_000_000_002, frame_id="lidar")
    with_nan.points[::4] = np.nan
    clouds = [full_cloud(30, seed=0, stamp_ns=1_700_000_000_123_456_789), with_nan]
    organized, organized_xyz, organized_intensity = organized_pointcloud2(stamp_ns=2_000_000_001)
    bag = write_cloud_bag(tmp_path / "bag", "/points", [clouds[0], organized, clouds[1]], storage=storage)
    assert list_topics(bag) == {"/points": POINTCLOUD2}

    sources = [bag] + ([bag / "bag.mcap"] if storage == "mcap" else [])  # also a lone .mcap file
    for source in sources:
        back = list(iter_clouds(source, "/points"))
        # recording order is stamp order
        assert [c.stamp_ns for c in back] == [2_000_000_001, 3_000_000_002, 1_700_000_000_123_456_789]
        assert [c.frame_id for c in back] == ["camera", "lidar", "lidar"]
        finite = np.isfinite(organized_xyz).all(axis=1)
        np.testing.assert_array_equal(back[0].points, organized_xyz[finite])
        np.testing.assert_array_equal(back[0].intensity, organized_intensity[finite])
        for got, sent in zip(back[1:], clouds[::-1], strict=True):
            keep = np.isfinite(sent.points).all(axis=1)
            np.testing.assert_allclose(got.points, sent.points[keep], atol=1e-6)  # PointCloud2 is float32
            np.testing.assert_array_equal(got.colors, sent.colors[keep])
            np.testing.assert_allclose(got.normals, sent.normals[keep], atol=1e-6)
            np.testing.assert_array_equal(got.intensity, sent.intensity[keep])
    kept = list(iter_clouds(bag, "/points", remove_nonfinite=False))
    assert len(kept[0]) == 20 and np.isnan(kept[1].points).any()
    assert [p.name for p in tmp_path.iterdir()] == ["bag"]  # no temporary folder left behind


def write_raw_bag(path, storage, topics):
    """topic -> (message type, [(timestamp, raw CDR bytes)]), written with rosbags directly."""
    plugin = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}[storage]
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        for topic, (msgtype, messages) in topics.items():
            connection = writer.add_connection(topic, msgtype, typestore=TYPESTORE)
            for timestamp, raw in messages:
                writer.write(connection, timestamp, raw)
    return path


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_undecodable_messages_are_skipped_with_a_warning(tmp_path, storage):
    good = [serialize_message(cloud_to_pointcloud2(full_cloud(10, seed=s, stamp_ns=s))) for s in (1, 4)]
    inconsistent = cloud_to_pointcloud2(full_cloud(10))
    inconsistent.row_step += 8  # data no longer row_step x height bytes
    messages = [(1, good[0]), (2, b"\x00\x01\x00\x00" + b"\xff" * 40), (3, serialize_message(inconsistent)),
                (4, good[1]), (5, good[1][:30])]
    bag = write_raw_bag(tmp_path / "bag", storage, {"/points": (POINTCLOUD2, messages)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clouds = list(iter_clouds(bag, "/points"))
    assert [c.stamp_ns for c in clouds] == [1, 4]
    text = [str(w.message) for w in caught]
    assert len(text) == 3 and all(issubclass(w.category, RuntimeWarning) for w in caught)
    assert "message 1 " in text[0] and "message 2 " in text[1] and "row_step" in text[1] and "message 4 " in text[2]
    assert all(str(bag) in t for t in text)


def test_bag_errors_are_one_clear_line(tmp_path):
    string = TYPESTORE.types["std_msgs/msg/String"](data="hi")
    raw_string = bytes(TYPESTORE.serialize_cdr(string, "std_msgs/msg/String"))
    cloud = bytes(serialize_message(cloud_to_pointcloud2(full_cloud(5))))
    bag = write_raw_bag(tmp_path / "bag", "sqlite3", {
        "/chatter": ("std_msgs/msg/String", [(1, raw_string)]), "/points": (POINTCLOUD2, [(2, cloud)])})
    assert list_topics(bag) == {"/chatter": "std_msgs/msg/String", "/points": POINTCLOUD2}

    with pytest.raises(BagError) as e:
        iter_clouds(bag, "/lidar")  # raised at the call, before iterating
    assert_error(e, bag, "no topic '/lidar'", "/chatter (std_msgs/msg/String)", f"/points ({POINTCLOUD2})")
    with pytest.raises(BagError) as e:
        iter_clouds(bag, "/chatter")
    assert_error(e, bag, "std_msgs/msg/String", "not sensor_msgs/msg/PointCloud2")
    for missing in (tmp_path / "nobag", tmp_path / "nobag.mcap"):
        with pytest.raises(BagError) as e:
            list_topics(missing)
        assert_error(e, missing, "no such bag")
    (tmp_path / "folder").mkdir()
    with pytest.raises(BagError) as e:
        list_topics(tmp_path / "folder")
    assert_error(e, tmp_path / "folder", "no metadata.yaml")
    (tmp_path / "broken.mcap").write_bytes(b"not an mcap file")
    with pytest.raises(BagError) as e:
        list_topics(tmp_path / "broken.mcap")
    assert_error(e, tmp_path / "broken.mcap", "cannot open")
    with pytest.raises(BagError) as e:
        write_cloud_bag(bag, "/points", [full_cloud(3)])
    assert_error(e, bag, "already exists")
    with pytest.raises(BagError) as e:
        write_cloud_bag(tmp_path / "new", "/points", [full_cloud(3)], storage="rosbag1")
    assert_error(e, tmp_path / "new", "unknown storage 'rosbag1'", "sqlite3", "mcap")


# ------------------------------------------------------------------ TUM trajectories

def test_tum_round_trip(tmp_path):
    transforms = random_transforms(6, max_translation=50.0, seed=4)
    stamps = np.array([1_700_000_000_000_000_001 + 33_333_333 * i for i in range(6)], dtype=np.int64)
    path = write_tum(tmp_path / "traj.txt", stamps, transforms)
    first = path.read_text().splitlines()[0].split()
    assert len(first) == 8 and first[0] == "1700000000.000000001"
    got_stamps, got = read_tum(path)
    np.testing.assert_array_equal(got_stamps, stamps)
    assert got_stamps.dtype == np.int64
    np.testing.assert_allclose(got, transforms, atol=1e-12)
    assert [p.name for p in tmp_path.iterdir()] == ["traj.txt"]


def test_tum_skips_comments_and_normalises_quaternions(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("# timestamp tx ty tz qx qy qz qw\n\n0.5 1 2 3 0 0 0 2\n1.25 0 0 0 0 0 1 1\n")
    stamps, transforms = read_tum(path)
    np.testing.assert_array_equal(stamps, [500_000_000, 1_250_000_000])
    np.testing.assert_allclose(transforms[0], [[1, 0, 0, 1], [0, 1, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]])
    np.testing.assert_allclose(transforms[1, :3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)


@pytest.mark.parametrize(("bad_line", "words"), [
    ("2.0 1 2 3 0 0 0", "expected 8 values"),
    ("2.0 1 2 x 0 0 0 1", "not a number"),
    ("abc 1 2 3 0 0 0 1", "not a number"),
    ("2.0 1 2 3 0 0 0 0", "zero quaternion"),
    ("2.0 nan 2 3 0 0 0 1", "NaN or Inf"),
])
def test_tum_malformed_line_names_file_and_line(tmp_path, bad_line, words):
    path = tmp_path / "t.txt"
    path.write_text(f"# header\n1.0 0 0 0 0 0 0 1\n{bad_line}\n")
    with pytest.raises(ValueError, match=words) as e:
        read_tum(path)
    assert f"{path}:3:" in str(e.value)


def test_tum_write_checks_shapes(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        write_tum(tmp_path / "t.txt", [1, 2], np.eye(4)[None].repeat(3, axis=0))
    with pytest.raises(ValueError, match="integers"):
        write_tum(tmp_path / "t.txt", [1.5], np.eye(4)[None])
    assert not (tmp_path / "t.txt").exists()
