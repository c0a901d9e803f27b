"""planner_node as its own process over DDS with the shipped eq weights, on a generated maze
published as map_server does (latched): a goal gets a collision-free Path from the start
(parameter, then initialpose) to the goal; bad maps and goals are refused with the reason,
counted, and the node keeps planning; the Trigger service replans. Plus the rclpy-free helpers."""

import math

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped, Quaternion
from nav_msgs.msg import OccupancyGrid, Path
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from eqrobot.policy.navigation.graph import segments_free
from eqrobot.policy.navigation.maps import free_space, generate
from eqrobot.policy.navigation.planner import Planner
from eqrobot.resources import share_file
from eqrobot.ros.convert import graph_markers, map_to_occupancy_grid, path_marker, path_to_array
from eqrobot.ros.diagnostics import status_values
from eqrobot.ros.harness import NodeProcess
from eqrobot.ros.planner_node import PointParam, plan_to_path, start_problem

PARAMS = share_file("config/planner.yaml")
# Maze 40 seed 1: 6 x 6 blocks of 5-cell corridors (0.1 m cells) whose graph is one component.
# Block (i, j) spans cells 1 + 6i .. 5 + 6i, so its centre is at 0.35 + 0.6 i m; the corners
# between blocks (cells 6i, 6j) are always wall.
MAZE = ("maze", 40, 1)
START = (0.35, 0.35)  # the parameter start
INITIAL = (3.35, 0.35)  # the initialpose sent later
GOAL = (3.35, 3.35)
SECOND_GOAL = (0.35, 3.35)
IN_WALL = (0.65, 0.65)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def yaw_quat(yaw: float) -> Quaternion:
    return Quaternion(z=math.sin(yaw / 2), w=math.cos(yaw / 2))


def goal_msg(xy, frame: str = "map", yaw: float = math.pi / 2) -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.pose.position.x, msg.pose.position.y = xy
    msg.pose.orientation = yaw_quat(yaw)
    return msg


def initial_msg(xy) -> PoseWithCovarianceStamped:
    msg = PoseWithCovarianceStamped()
    msg.header.frame_id = "map"
    msg.pose.pose.position.x, msg.pose.pose.position.y = xy
    msg.pose.pose.orientation.w = 1.0
    return msg


# --- the rclpy-free helpers ------------------------------------------------------------

def test_start_parameter_is_a_point_or_empty():
    for ok in ([], None, [1, 2], [1.5, -2.0], (0.0, 0.0)):
        assert start_problem(ok) == "", ok
    for bad in ([1.0], [1.0, 2.0, 3.0], [math.nan, 0.0], ["a", "b"], [True, False], "1, 2", 3.0):
        assert "must be [x, y]" in start_problem(bad), bad
    # dynamically typed, so that [1, 2] (integers) and [] (a byte array to rclpy) are accepted
    assert PointParam("start", [], "a point").descriptor().dynamic_typing


def test_path_faces_the_next_waypoint_and_ends_in_the_goal_orientation():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    path = plan_to_path(points, "map", None, yaw_quat(math.pi))
    poses = path_to_array(path, with_orientation=True)
    np.testing.assert_allclose(poses[:, :2], points)
    yaws = 2 * np.arctan2(poses[:, 5], poses[:, 6])
    np.testing.assert_allclose(yaws, [0.0, math.pi / 2, math.pi], atol=1e-9)
    assert path.header.frame_id == "map" and all(p.header.frame_id == "map" for p in path.poses)


def test_graph_markers_draw_each_edge_once_and_every_node():
    positions = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    edges = np.array([[0, 1], [1, 0], [0, 2], [2, 0]])
    lines, nodes = graph_markers(positions, edges, "map", ns="g")
    assert (lines.type, nodes.type) == (Marker.LINE_LIST, Marker.POINTS)
    assert len(lines.points) == 4 and len(nodes.points) == 3
    assert lines.ns == "g/edges" and lines.header.frame_id == "map" and lines.pose.orientation.w == 1.0
    strip = path_marker(positions, "map")
    assert strip.type == Marker.LINE_STRIP and len(strip.points) == 3
    with pytest.raises(ValueError, match="outside"):
        graph_markers(positions, [[0, 3]])


# --- the node over DDS -----------------------------------------------------------------

def malformed_grid() -> OccupancyGrid:
    grid = map_to_occupancy_grid(generate("rooms", 16, 0))
    grid.info.width = 17  # the data holds 16 x 16 cells
    return grid


def assert_collision_free(m, points: np.ndarray) -> None:
    free = free_space(m)
    assert segments_free(m, free, points[:-1], points[1:]).all(), points


@pytest.mark.ros
def test_goals_get_collision_free_paths_and_bad_input_is_refused(ros_client, ros_env):
    m = generate(*MAZE)
    core = Planner("eq", device="cpu")  # what the node should publish: same weights, same graph
    core.set_map(m)
    expected = core.plan(START, GOAL)
    for start, goal in ((START, GOAL), (INITIAL, GOAL), (INITIAL, SECOND_GOAL)):
        # a premise on the weights, not on the node: say so if retrained weights break it
        assert core.plan(start, goal).reachable, f"the eq weights find no path {start} -> {goal} in {MAZE}"

    overrides = {"device": "cpu", "start": list(START), "diagnostics_period": 0.2}
    with NodeProcess("eqrobot.ros.planner_node", PARAMS, overrides, env=ros_env) as node:
        map_pub = ros_client.publisher(OccupancyGrid, "map", LATCHED)
        goal_pub = ros_client.publisher(PoseStamped, "goal_pose")
        initial_pub = ros_client.publisher(PoseWithCovarianceStamped, "initialpose")
        paths = ros_client.collect(Path, "plan", LATCHED)
        markers = ros_client.collect(MarkerArray, "planner/markers", LATCHED)
        diags = ros_client.collect(DiagnosticArray, "/diagnostics")
        plan_srv = ros_client.node.create_client(Trigger, "planner/plan")
        # The service appears once the planner is loaded and warmed up.
        assert ros_client.spin_until(plan_srv.service_is_ready, 60), node.output()
        for pub in (map_pub, goal_pub, initial_pub):
            assert ros_client.wait_for_subscribers(pub, timeout=30), node.output()

        def call() -> Trigger.Response:
            future = plan_srv.call_async(Trigger.Request())
            assert ros_client.spin_until(future.done, 30), node.output()
            return future.result()

        def problems() -> tuple[int, str]:
            values = status_values(diags[-1].status[0]) if diags else {}
            return int(values.get("rejected", 0)), values.get("last_problem", "")

        def refused(pub, msg, reason: str) -> None:
            """Publish until /diagnostics counts one more rejection for ``reason``; no path comes."""
            before, n = problems()[0], len(paths)
            assert ros_client.spin_until(lambda: diags, 10), node.output()
            assert ros_client.publish_until(
                pub, msg, lambda: problems()[0] > before and reason in problems()[1], 10, period=0.5), \
                (problems(), node.output())
            ros_client.spin_for(0.5)
            assert len(paths) == n

        answer = call()
        assert not answer.success and "no map received" in answer.message

        refused(map_pub, malformed_grid(), "OccupancyGrid.data")
        map_pub.publish(map_to_occupancy_grid(m))
        assert ros_client.spin_until(lambda: markers, 10), node.output()
        graph = {mk.ns: mk for mk in markers[-1].markers}
        assert graph["planner/graph/edges"].type == Marker.LINE_LIST and graph["planner/graph/nodes"].points
        answer = call()
        assert not answer.success and "no goal received" in answer.message

        # a goal: planned from the parameter start, as the core plans it
        assert ros_client.publish_until(goal_pub, goal_msg(GOAL), lambda: paths, 20), node.output()
        path = path_to_array(paths[-1], with_orientation=True)
        assert paths[-1].header.frame_id == "map"
        np.testing.assert_allclose(path[:, :2], expected.path, atol=1e-6)
        np.testing.assert_allclose(path[0, :2], START, atol=1e-6)
        np.testing.assert_allclose(path[-1, :2], GOAL, atol=1e-6)
        np.testing.assert_allclose(path[-1, 5:], [math.sin(math.pi / 4), math.cos(math.pi / 4)], atol=1e-6)
        assert_collision_free(m, path[:, :2])
        def path_strips() -> list:
            return [mk for mk in markers[-1].markers if mk.ns == "planner/path" and mk.action == Marker.ADD]

        assert ros_client.spin_until(path_strips, 10), node.output()  # the map's markers deleted the old path
        assert path_strips()[0].type == Marker.LINE_STRIP and len(path_strips()[0].points) == len(path)

        # an initialpose replaces the parameter start; the service plans from it to the last goal
        def planned_from_initialpose() -> bool:
            initial_pub.publish(initial_msg(INITIAL))
            ros_client.spin_for(0.2)
            return call().success and np.allclose(path_to_array(paths[-1])[0, :2], INITIAL, atol=1e-6)

        assert ros_client.spin_until(planned_from_initialpose, 20), node.output()
        answer = call()
        assert answer.success and "waypoints" in answer.message, answer.message
        points = path_to_array(paths[-1])[:, :2]
        np.testing.assert_allclose(points[-1], GOAL, atol=1e-6)
        assert_collision_free(m, points)

        # bad goals: no path, counted, and the node goes on
        refused(goal_pub, goal_msg(IN_WALL), "in an occupied cell")
        refused(goal_pub, goal_msg(SECOND_GOAL, frame="odom"), "frame 'odom'")
        answer = call()  # the last goal is the one in odom
        assert not answer.success and "frame 'odom'" in answer.message
        n = len(paths)
        assert ros_client.publish_until(goal_pub, goal_msg(SECOND_GOAL), lambda: len(paths) > n, 20), node.output()
        points = path_to_array(paths[-1])[:, :2]
        np.testing.assert_allclose(points[[0, -1]], [INITIAL, SECOND_GOAL], atol=1e-6)
        assert_collision_free(m, points)
        assert node.alive()


@pytest.mark.ros
def test_a_bad_start_parameter_stops_the_node_with_the_reason(ros_env):
    with NodeProcess("eqrobot.ros.planner_node", PARAMS, {"start": [1.0, 2.0, 3.0]}, env=ros_env) as node:
        node.proc.wait(60)
        assert node.proc.returncode == 2
    assert "parameter 'start' must be [x, y]" in node.output()
