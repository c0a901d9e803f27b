"""ROS 2 bags of point clouds without a ROS installation, through the ``rosbags`` library.

Reads ``sensor_msgs/msg/PointCloud2`` from a rosbag2 folder (sqlite3 or mcap storage, the
folder that holds ``metadata.yaml``) or from a single ``.mcap`` file, and writes small
bags for tests and demos. Each message is rebuilt as a real ``sensor_msgs.msg.PointCloud2``
and converted by :func:`eqrobot.ros.convert.pointcloud2_to_cloud`, so a bag gives exactly
what a live topic gives. Problems with the bag itself raise :class:`BagError` (one line);
a single message that cannot be decoded is skipped with a warning.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from builtin_interfaces.msg import Time
from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Connection
from rosbags.rosbag2 import ReaderError, StoragePlugin, Writer, WriterError
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, TypesysError, get_typestore
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from eqrobot.geometry.types import PointCloud
from eqrobot.ros.convert.header import byte_array, stamp_to_ns
from eqrobot.ros.convert.pointcloud import cloud_to_pointcloud2, pointcloud2_to_cloud

POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
STORAGES = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}

# The installed ROS message wheels are Kilted; PointCloud2 is the same in every ROS 2 distro.
_TYPESTORE = get_typestore(Stores.ROS2_KILTED)
_OPEN_ERRORS = (AnyReaderError, ReaderError, TypesysError, OSError)
_DECODE_ERRORS = (AnyReaderError, SerdeError, ValueError)


class BagError(ValueError):
    """A bag that cannot be read or written as asked; ``path`` and ``reason`` are kept."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")


@dataclass
class _OpenBag:
    """What reading needs from either an AnyReader (bag folder) or a McapReader (single file)."""

    connections: list[Connection]
    messages: Callable[[list[Connection]], Iterator[tuple[Connection, int, bytes]]]
    deserialize: Callable[[bytes, str], object]


# ---------------------------------------------------------------- reading


def list_topics(bag_path: str | Path) -> dict[str, str]:
    """Topic -> message type (e.g. ``sensor_msgs/msg/PointCloud2``) of every topic in the bag."""
    with _open_bag(Path(bag_path)) as bag:
        return _topic_types(bag)


def iter_clouds(bag_path: str | Path, topic: str, remove_nonfinite: bool = True) -> Iterator[PointCloud]:
    """The clouds on ``topic`` in recording order, with ``stamp_ns`` and ``frame_id`` from their headers.

    The bag and topic are checked when called (raising :class:`BagError`), not at the
    first ``next()``. Points with a NaN/Inf coordinate are dropped unless
    ``remove_nonfinite`` is false. Undecodable messages are skipped with a ``RuntimeWarning``.
    """
    bag_path = Path(bag_path)
    with _open_bag(bag_path) as bag:
        _connections_for(bag_path, bag, topic)
    return _generate_clouds(bag_path, topic, remove_nonfinite)


def _generate_clouds(bag_path: Path, topic: str, remove_nonfinite: bool) -> Iterator[PointCloud]:
    with _open_bag(bag_path) as bag:
        connections = _connections_for(bag_path, bag, topic)
        for index, (_, timestamp, raw) in enumerate(_raw_messages(bag_path, bag, connections)):
            try:
                yield pointcloud2_to_cloud(_to_ros_message(bag.deserialize(raw, POINTCLOUD2)), remove_nonfinite)
            except _DECODE_ERRORS as err:
                warnings.warn(
                    f"{bag_path}: skipping message {index} on {topic} (recorded at {timestamp} ns): {err}",
                    RuntimeWarning, stacklevel=2,
                )


def _raw_messages(bag_path: Path, bag: _OpenBag, connections: list[Connection]) -> Iterator[tuple]:
    try:
        yield from bag.messages(connections)
    except _OPEN_ERRORS as err:
        raise BagError(bag_path, f"corrupt bag: {err}") from err


@contextmanager
def _open_bag(bag_path: Path) -> Iterator[_OpenBag]:
    if not bag_path.exists():
        raise BagError(bag_path, "no such bag (expected a rosbag2 folder or an .mcap file)")
    reader = _make_reader(bag_path)
    try:
        reader.open()
    except _OPEN_ERRORS as err:
        raise BagError(bag_path, f"cannot open the bag: {err}") from err
    try:
        if isinstance(reader, AnyReader):
            yield _OpenBag(reader.connections, reader.messages, reader.deserialize)
        else:
            yield _OpenBag(reader.connections, reader.messages, _TYPESTORE.deserialize_cdr)
    finally:
        reader.close()


def _make_reader(bag_path: Path) -> AnyReader | McapReader:
    """rosbags' AnyReader needs a folder with metadata.yaml; a lone .mcap file goes to its storage reader."""
    if bag_path.is_file():
        if bag_path.suffix.lower() != ".mcap":
            raise BagError(bag_path, "not a bag: expected a rosbag2 folder or an .mcap file")
        return McapReader(bag_path)
    if not (bag_path / "metadata.yaml").is_file():
        raise BagError(bag_path, "not a rosbag2 folder: it has no metadata.yaml")
    try:
        return AnyReader([bag_path], default_typestore=_TYPESTORE)
    except _OPEN_ERRORS as err:
        raise BagError(bag_path, f"cannot open the bag: {err}") from err


def _topic_types(bag: _OpenBag) -> dict[str, str]:
    return {c.topic: c.msgtype for c in sorted(bag.connections, key=lambda c: c.topic)}


def _connections_for(bag_path: Path, bag: _OpenBag, topic: str) -> list[Connection]:
    topics = _topic_types(bag)
    if topic not in topics:
        available = ", ".join(f"{name} ({msgtype})" for name, msgtype in topics.items()) or "none"
        raise BagError(bag_path, f"no topic '{topic}' in the bag; its topics are: {available}")
    if topics[topic] != POINTCLOUD2:
        raise BagError(bag_path, f"topic '{topic}' carries {topics[topic]}, not {POINTCLOUD2}")
    return [c for c in bag.connections if c.topic == topic]


def _to_ros_message(msg) -> PointCloud2:
    """A ``sensor_msgs.msg.PointCloud2`` with the fields of a deserialized rosbags message."""
    stamp = Time(sec=msg.header.stamp.sec, nanosec=msg.header.stamp.nanosec)
    fields = [PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in msg.fields]
    return PointCloud2(
        header=Header(frame_id=msg.header.frame_id, stamp=stamp), height=msg.height, width=msg.width,
        fields=fields, is_bigendian=bool(msg.is_bigendian), point_step=msg.point_step, row_step=msg.row_step,
        data=byte_array(msg.data), is_dense=bool(msg.is_dense),
    )


# ---------------------------------------------------------------- writing


def write_cloud_bag(
    bag_path: str | Path,
    topic: str,
    clouds: Sequence[PointCloud | PointCloud2],
    storage: str = "sqlite3",
) -> Path:
    """Write ``clouds`` as PointCloud2 messages on ``topic`` into a new rosbag2 folder.

    Items may be :class:`PointCloud` (converted by ``cloud_to_pointcloud2``) or ready
    ``sensor_msgs.msg.PointCloud2`` messages (any layout, e.g. organized). Each message is
    recorded at its header stamp. The bag is written in a temporary folder beside
    ``bag_path`` and renamed into place, so ``bag_path`` never holds half a bag.
    """
    bag_path = Path(bag_path)
    if storage not in STORAGES:
        raise BagError(bag_path, f"unknown storage '{storage}' (supported: {', '.join(STORAGES)})")
    if bag_path.exists():
        raise BagError(bag_path, "already exists; rosbag2 bags are never overwritten")
    messages = [c if isinstance(c, PointCloud2) else cloud_to_pointcloud2(c) for c in clouds]
    bag_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{bag_path.name}.", dir=bag_path.parent) as tmp:
        # Same folder name inside the temporary folder: rosbags names the storage file after it.
        staged = Path(tmp) / bag_path.name
        _write_messages(staged, topic, messages, STORAGES[storage])
        _fsync_folder_files(staged)
        os.rename(staged, bag_path)
    return bag_path


def _write_messages(bag_path: Path, topic: str, messages: list[PointCloud2], storage: StoragePlugin) -> None:
    try:
        with Writer(bag_path, version=Writer.VERSION_LATEST, storage_plugin=storage) as writer:
            connection = writer.add_connection(topic, POINTCLOUD2, typestore=_TYPESTORE)
            for msg in messages:
                raw = _TYPESTORE.serialize_cdr(_to_rosbags_message(msg), POINTCLOUD2)
                writer.write(connection, stamp_to_ns(msg.header.stamp), raw)
    except WriterError as err:
        raise BagError(bag_path, f"cannot write the bag: {err}") from err


def _to_rosbags_message(msg: PointCloud2):
    """The rosbags dataclass for a ``sensor_msgs.msg.PointCloud2`` (what its serializer takes)."""
    types = _TYPESTORE.types
    stamp = types["builtin_interfaces/msg/Time"](sec=msg.header.stamp.sec, nanosec=msg.header.stamp.nanosec)
    header = types["std_msgs/msg/Header"](stamp=stamp, frame_id=msg.header.frame_id)
    point_field = types["sensor_msgs/msg/PointField"]
    fields = [point_field(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in msg.fields]
    return types[POINTCLOUD2](
        header=header, height=msg.height, width=msg.width, fields=fields, is_bigendian=msg.is_bigendian,
        point_step=msg.point_step, row_step=msg.row_step, data=np.frombuffer(msg.data, dtype=np.uint8),
        is_dense=msg.is_dense,
    )


def _fsync_folder_files(folder: Path) -> None:
    for path in folder.iterdir():
        with path.open("rb") as f:
            os.fsync(f.fileno())
