"""nav_msgs/OccupancyGrid <-> :class:`~eqrobot.geometry.types.OccupancyMap`."""

from __future__ import annotations

import array

import numpy as np
from nav_msgs.msg import MapMetaData, OccupancyGrid

from eqrobot.geometry.types import OccupancyMap
from eqrobot.ros.convert.errors import MessageError
from eqrobot.ros.convert.header import make_header
from eqrobot.ros.convert.poses import matrix_to_pose, pose_to_matrix


def occupancy_grid_to_map(msg: OccupancyGrid) -> OccupancyMap:
    info = msg.info
    h, w = int(info.height), int(info.width)
    data = np.frombuffer(msg.data, dtype=np.int8)
    if data.size != h * w:
        raise MessageError(
            "OccupancyGrid", "data", f"expected width x height = {w} x {h} = {w * h} cells, got {data.size}")
    if not (np.isfinite(info.resolution) and info.resolution > 0):
        raise MessageError("OccupancyGrid", "info.resolution", f"must be positive, got {info.resolution}")
    bad = (data < -1) | (data > 100)
    if bad.any():
        raise MessageError("OccupancyGrid", "data", f"{int(bad.sum())} cells outside -1..100")
    return OccupancyMap(
        data=data.reshape(h, w), resolution=float(info.resolution),
        origin=pose_to_matrix(info.origin), frame_id=msg.header.frame_id,
    )


def map_to_occupancy_grid(m: OccupancyMap, stamp=None) -> OccupancyGrid:
    info = MapMetaData(
        resolution=float(m.resolution), width=m.width, height=m.height, origin=matrix_to_pose(m.origin),
    )
    msg = OccupancyGrid(header=make_header(m.frame_id, stamp=stamp), info=info)
    cells = array.array("b")
    cells.frombytes(np.ascontiguousarray(m.data, dtype=np.int8).tobytes())
    msg.data = cells
    return msg
