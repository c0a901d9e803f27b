"""planner_node: a global path planner on an occupancy map, with Nav2's topic names.

Subscribes ``map`` (nav_msgs/OccupancyGrid, transient local as map_server and slam_toolbox
publish it), ``goal_pose`` (geometry_msgs/PoseStamped) and ``initialpose``
(geometry_msgs/PoseWithCovarianceStamped, the robot's start; until one arrives the parameter
``start`` is used). Each goal is planned on at once with :class:`Planner` (learned
E(2)-equivariant value iteration by default) and published as ``plan`` (nav_msgs/Path in the
map's frame) and ``planner/markers`` (the graph and the path). The service ``planner/plan``
(std_srvs/Trigger) plans again from the current start to the last goal.

Start and goal must be in the map's frame (no tf lookup): a pose in another frame, outside
the map, in an occupied or unknown cell, a goal the graph cannot reach, or a malformed map
is warned about, counted in /diagnostics and publishes no path; the node keeps running.

Run: ``python -m eqrobot.ros.planner_node --ros-args --params-file config/planner.yaml``
"""

from __future__ import annotations

import array
import math
from dataclasses import dataclass, replace

import numpy as np
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped, Quaternion
from nav_msgs.msg import OccupancyGrid, Path
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

from eqrobot.geometry.types import OccupancyMap
from eqrobot.policy.navigation.planner import PLANNERS, Plan, Planner
from eqrobot.ros.convert import (
    array_to_path,
    delete_marker,
    graph_markers,
    matrix_to_pose,
    occupancy_grid_to_map,
    path_marker,
    pose_to_matrix,
)
from eqrobot.ros.node_base import InferenceNode, InputRejected, Param, run_node

DEFAULT_FRAME = "map"  # a map whose header names no frame (Nav2's global frame)
PATH_NS = "planner/path"
GRAPH_NS = "planner/graph"


@dataclass(frozen=True)
class PointParam(Param):
    """A point parameter that may be unset. Dynamically typed: ``[1, 2]`` works as well as
    ``[1.0, 2.0]``, and an empty list (rclpy would type it as a byte array) or a params
    file's ``[]`` means none."""

    def descriptor(self):
        d = super().descriptor()
        d.dynamic_typing = True
        return d


@dataclass
class Endpoint:
    """A start or goal as received: x, y (m), its frame, and the orientation to end a path in."""

    xy: np.ndarray
    frame_id: str
    orientation: Quaternion | None = None


class PlannerNode(InferenceNode):
    NAME = "planner_node"
    PARAMS = (
        Param("planner", "eq", "eq: learned E(2)-equivariant planner; gnn: its non-equivariant baseline; "
              "dijkstra, astar: exact on the same graph", choices=PLANNERS, read_only=True),
        Param("weights", "", "planner weights (.safetensors) for eq or gnn; empty uses the shipped "
              "models/navigation/mpvin-<planner>.safetensors", read_only=True),
        Param("density", 0.0, "graph nodes per square metre of free space; 0 = the weights' graph setting "
              "(GraphConfig's for dijkstra/astar)", min=0.0, max=10000.0, read_only=True),
        Param("k", 0, "nearest neighbours each graph node tries to join; 0 = the weights' graph setting",
              min=0, max=64, read_only=True),
        Param("clearance", -1.0, "robot radius (m): graph nodes and edges keep this far from occupied and "
              "unknown cells; negative = the weights' graph setting", min=-1.0, max=10.0, read_only=True),
        PointParam("start", [], "start [x, y] (m, map frame) used until an initialpose arrives; [] = none"),
        Param("map_transient_local", True, "subscribe to map as transient local (map_server, slam_toolbox); "
              "false for a volatile map publisher", read_only=True),
    )

    def setup(self) -> None:
        self.planner = Planner(self.param("planner"), self.param("weights") or None, device=self.device)
        # graph_config holds the weights' graph settings (GraphConfig's for the exact planners);
        # replace() validates the overrides, so a bad one fails configuration.
        self.planner.graph_config = replace(self.planner.graph_config, **self._graph_overrides())
        g = self.planner.graph_config
        self.get_logger().info(f"planner '{self.planner.name}': graph {g.sampler}, density {g.density} /m^2, "
                               f"k {g.k}, clearance {g.clearance} m")
        self.map_frame: str | None = None  # set by the first usable map
        self.initial: Endpoint | None = None
        self.goal: Endpoint | None = None
        self.graph_markers: list = []
        self.last_plan: Plan | None = None

    def _graph_overrides(self) -> dict:
        """The graph settings given as parameters (0, or a negative clearance, leaves the weights')."""
        density, k, clearance = (self.param(name) for name in ("density", "k", "clearance"))
        given = {"density": density if density > 0 else None, "k": k if k > 0 else None,
                 "clearance": clearance if clearance >= 0 else None}
        return {name: value for name, value in given.items() if value is not None}

    def warm_up(self) -> None:
        # An open room wide enough for any clearance: the first real goal then does not pay
        # for torch's first call. The node plans only after a real map (map_frame) arrives.
        side = int(math.ceil((2 * self.planner.graph_config.clearance + 1.0) / 0.1)) + 2
        grid = np.zeros((side, side), np.int8)
        grid[[0, -1], :] = grid[:, [0, -1]] = 100
        graph = self.planner.set_map(OccupancyMap(grid, 0.1))
        self.planner.plan(graph.positions[0], graph.positions[-1])

    def create_interfaces(self) -> None:
        latched = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        # Goals and initial poses come one at a time from RViz or a script (reliable): none may be lost.
        commands = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.VOLATILE)
        map_qos = latched if self.param("map_transient_local") else commands
        # Latched outputs: RViz started later still shows the last plan and the graph.
        self.path_pub = self.publisher(Path, "plan", latched)
        self.markers_pub = self.publisher(MarkerArray, "planner/markers", latched)
        self.subscribe(OccupancyGrid, "map", self.on_map, map_qos)
        self.subscribe(PoseStamped, "goal_pose", self.on_goal, commands)
        self.subscribe(PoseWithCovarianceStamped, "initialpose", self.on_initialpose, commands)
        # Created last: the base class does not track services, teardown() destroys it.
        self.plan_srv = self.create_service(Trigger, "planner/plan", self.on_plan)

    def teardown(self) -> None:
        self.destroy_service(self.plan_srv)
        self.planner = None

    # --- inputs --------------------------------------------------------------------

    def on_map(self, msg: OccupancyGrid) -> None:
        m = occupancy_grid_to_map(msg)
        check_planar(m)
        m.frame_id = m.frame_id or DEFAULT_FRAME
        graph = self.planner.set_map(m)  # raises (keeping the previous map) when no cell has clearance
        self.map_frame = m.frame_id
        stamp = msg.header.stamp
        self.graph_markers = graph_markers(graph.positions, graph.edges, m.frame_id, stamp, GRAPH_NS)
        # A path planned on the previous map may cross the new one's walls: take it off the display.
        self.markers_pub.publish(MarkerArray(markers=[*self.graph_markers, delete_marker(PATH_NS, m.frame_id, stamp)]))
        self.get_logger().info(f"map {m.width}x{m.height} cells at {m.resolution:.3g} m in '{m.frame_id}': graph of "
                               f"{graph.num_nodes} nodes, {len(graph.edges) // 2} edges")

    def on_initialpose(self, msg: PoseWithCovarianceStamped) -> None:
        # Kept as received: the robot is where it says it is. A bad one (wrong frame, in a
        # wall) is reported by the plans made from it.
        self.initial = endpoint(msg.pose.pose, msg.header.frame_id)

    def on_goal(self, msg: PoseStamped) -> None:
        self.goal = endpoint(msg.pose, msg.header.frame_id)  # the last goal, for planner/plan
        self._plan()

    def on_plan(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        def plan_and_describe() -> str:
            self._plan()
            return describe(self.last_plan)

        return self.answer_trigger(request, response, plan_and_describe)

    # --- planning ------------------------------------------------------------------

    def _plan(self) -> None:
        if self.map_frame is None:
            raise InputRejected("no map received on map yet")
        if self.goal is None:
            raise InputRejected("no goal received on goal_pose yet")
        start = self._start()
        self._require_map_frame(start, "start")
        self._require_map_frame(self.goal, "goal")
        plan = self.planner.plan(start.xy, self.goal.xy)  # PlanningError (a ValueError): bad start or goal
        if not plan.reachable:
            raise InputRejected(f"no path: {plan.reason}")
        self.last_plan = plan
        self._publish(plan)
        self.get_logger().info(describe(plan))

    def _start(self) -> Endpoint:
        if self.initial is not None:
            return self.initial
        value = self.param("start")
        if value is None or len(value) == 0:
            raise InputRejected("no start: publish initialpose or set the parameter start [x, y]")
        return Endpoint(np.asarray(value, dtype=np.float64), self.map_frame)

    def _require_map_frame(self, point: Endpoint, name: str) -> None:
        # An empty frame (a hand-typed `ros2 topic pub`) is taken as the map's.
        if point.frame_id and point.frame_id != self.map_frame:
            raise InputRejected(f"{name} is in frame '{point.frame_id}', the map in '{self.map_frame}' "
                                "(give it in the map's frame: the node does no tf lookup)")

    def _publish(self, plan: Plan) -> None:
        stamp = self.get_clock().now().to_msg()
        path = plan_to_path(plan.path, self.map_frame, stamp, self.goal.orientation)
        self.path_pub.publish(path)
        marker = path_marker(plan.path, self.map_frame, stamp, PATH_NS)
        self.markers_pub.publish(MarkerArray(markers=[*self.graph_markers, marker]))

    # --- parameters ----------------------------------------------------------------

    def _parameter_problem(self, name: str, value) -> str:
        if name == "start":
            return start_problem(value)
        return super()._parameter_problem(name, value)


def endpoint(pose, frame_id: str) -> Endpoint:
    """A pose message's x, y and unit orientation (rejects NaN and a zero quaternion)."""
    T = pose_to_matrix(pose)
    return Endpoint(T[:2, 3].copy(), frame_id, matrix_to_pose(T).orientation)


def check_planar(m: OccupancyMap) -> None:
    """The planner reads the map's origin as x, y and a yaw: refuse a tilted origin."""
    if abs(m.origin[2, 2] - 1.0) > 1e-6:
        raise InputRejected("OccupancyGrid.info.origin: orientation must be a rotation about z only")


def start_problem(value) -> str:
    """Why ``value`` is not a usable ``start`` parameter ("" when it is: [x, y] or empty)."""
    numbers = isinstance(value, (list, tuple, array.array)) and not any(
        isinstance(v, (bool, str, bytes)) for v in value)
    if value is None or (numbers and len(value) == 0):
        return ""
    if numbers and len(value) == 2 and all(math.isfinite(v) for v in value):
        return ""
    return f"parameter 'start' must be [x, y] in metres (map frame) or [] for none, got {value!r}"


def plan_to_path(points: np.ndarray, frame_id: str, stamp, goal_orientation: Quaternion | None = None) -> Path:
    """nav_msgs/Path through ``points`` (K, 2), each pose facing the next waypoint and the last
    one in the goal's orientation (as Nav2's planners end a path)."""
    path = array_to_path(points, frame_id, stamp)
    if path.poses and goal_orientation is not None:
        path.poses[-1].pose.orientation = goal_orientation
    return path


def describe(plan: Plan) -> str:
    return (f"{plan.planner}: {len(plan.path)} waypoints, {plan.length_m:.2f} m, "
            f"planned in {1000 * plan.time_s:.1f} ms")


def main(args=None) -> int:
    return run_node(PlannerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
