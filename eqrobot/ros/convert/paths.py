"""Geometric graphs and paths (numpy, metres) -> visualization_msgs markers for RViz.

A graph is ``positions`` (N, 2) and directed ``edges`` (E, 2) (each edge usually in both
directions); a path is (K, 2) waypoints. (nav_msgs/Path itself: :func:`array_to_path`.)
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker

from eqrobot.ros.convert.header import make_header

EDGE_COLOR = ColorRGBA(r=0.5, g=0.5, b=0.5, a=0.6)
NODE_COLOR = ColorRGBA(r=0.1, g=0.3, b=0.9, a=0.9)
PATH_COLOR = ColorRGBA(r=0.1, g=0.8, b=0.1, a=1.0)


def _points(xy: np.ndarray, z: float) -> list[Point]:
    return [Point(x=float(x), y=float(y), z=z) for x, y in np.asarray(xy, dtype=np.float64).reshape(-1, 2)]


def _marker(ns: str, kind: int, frame_id: str, stamp, width: float, color: ColorRGBA) -> Marker:
    marker = Marker(header=make_header(frame_id, stamp=stamp), ns=ns, id=0, type=kind, action=Marker.ADD,
                    color=color)
    marker.pose.orientation.w = 1.0  # RViz refuses a marker with an all-zero quaternion
    marker.scale.x = marker.scale.y = width
    return marker


def graph_markers(positions, edges, frame_id: str = "map", stamp=None, ns: str = "graph") -> list[Marker]:
    """Edges as one LINE_LIST (each undirected edge once, ns ``<ns>/edges``) and nodes as
    POINTS (ns ``<ns>/nodes``), a little above the map so RViz draws them over it."""
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(edges) and (edges.min() < 0 or edges.max() >= len(positions)):
        raise ValueError(f"graph_markers: edges name nodes outside 0..{len(positions) - 1}")
    undirected = np.unique(np.sort(edges, axis=1), axis=0)
    undirected = undirected[undirected[:, 0] != undirected[:, 1]]
    lines = _marker(f"{ns}/edges", Marker.LINE_LIST, frame_id, stamp, 0.01, EDGE_COLOR)
    lines.points = _points(positions[undirected.reshape(-1)], 0.01)
    nodes = _marker(f"{ns}/nodes", Marker.POINTS, frame_id, stamp, 0.04, NODE_COLOR)
    nodes.points = _points(positions, 0.01)
    return [lines, nodes]


def path_marker(path, frame_id: str = "map", stamp=None, ns: str = "path") -> Marker:
    """The path as a LINE_STRIP through its waypoints, drawn over the graph."""
    marker = _marker(ns, Marker.LINE_STRIP, frame_id, stamp, 0.04, PATH_COLOR)
    marker.points = _points(path, 0.02)
    return marker


def delete_marker(ns: str, frame_id: str = "map", stamp=None) -> Marker:
    """Removes the marker ``ns``/0 (e.g. a path that no longer fits a new map)."""
    return Marker(header=make_header(frame_id, stamp=stamp), ns=ns, id=0, action=Marker.DELETE)
