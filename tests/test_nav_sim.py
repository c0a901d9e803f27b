"""The navigation world (eqrobot.sim.navigation): walls where the map is blocked, a shrunk Husky
that drives and turns, and planned paths followed to the goal without touching a wall."""

import math

import numpy as np
import pybullet as p
import pytest

from eqrobot.geometry.types import OccupancyMap
from eqrobot.policy.navigation.maps import OCCUPIED, free_space, generate, rotated
from eqrobot.policy.navigation.planner import Planner
from eqrobot.sim.navigation import (
    FollowConfig,
    NavigationWorld,
    blocked_rectangles,
    follow_plan,
    path_clearance,
)

CLEARANCE = 0.15  # the planner's default robot radius (GraphConfig.clearance)


def open_map(size: int = 40) -> OccupancyMap:
    data = np.zeros((size, size), dtype=np.int8)
    data[0, :] = data[-1, :] = data[:, 0] = data[:, -1] = OCCUPIED
    return OccupancyMap(data=data, resolution=0.1)


def far_apart_plan(m: OccupancyMap, tries: int = 30, seed: int = 0):
    """The plan between the farthest-apart of ``tries`` random pairs of cells where the robot fits.
    The planner joins start and goal to its graph without the robot's clearance, so a few plans
    graze a wall on their first or last leg (a limit of the plan, not of the robot): keep plans
    that stay 9 cm from walls, more than the robot's 6.4 cm half-width and some wobble."""
    planner = Planner("dijkstra")
    planner.set_map(m)
    cells = np.argwhere(free_space(m, CLEARANCE))
    rng = np.random.default_rng(seed)
    best, best_distance = None, 0.0
    for _ in range(tries):
        a, b = cells[rng.choice(len(cells), 2, replace=False)]
        start, goal = m.cell_to_world([a[0], b[0]], [a[1], b[1]])
        plan = planner.plan(start, goal)
        distance = float(np.linalg.norm(goal - start))
        if plan.reachable and distance > best_distance and path_clearance(m, plan.path) > 0.09:
            best, best_distance = plan, distance
    assert best is not None and best_distance > 0.4 * m.width * m.resolution
    return best


def assert_followed(m: OccupancyMap, path: np.ndarray) -> None:
    result = follow_plan(m, path)
    assert result.success, result
    assert result.ended_by == "goal" and result.goal_error_m <= FollowConfig().goal_tolerance
    np.testing.assert_allclose(result.final_xy, path[-1], atol=0.1)
    length = np.linalg.norm(np.diff(path, axis=0), axis=1).sum()
    assert 0.8 * length < result.distance_m < 1.3 * length  # it went along the path, not around it
    assert 0 < result.time_s < result.time_limit_s


def test_blocked_cells_merge_into_few_rectangles_that_cover_them_exactly():
    m = generate("maze", 64, seed=3)
    blocked = m.blocked()
    rectangles = blocked_rectangles(blocked)
    covered = np.zeros(blocked.shape, dtype=int)
    for r0, r1, c0, c1 in rectangles:
        covered[r0:r1, c0:c1] += 1
    np.testing.assert_array_equal(covered, blocked.astype(int))  # every blocked cell once, nothing else
    assert len(rectangles) < blocked.sum() / 10


def test_walls_stand_exactly_on_the_blocked_cells_of_a_turned_and_moved_map():
    m = rotated(generate("rooms", 40, seed=1), 0.6)
    m.origin[:2, 3] += [5.0, -3.0]
    m.data[5:8, 20:30] = -1  # unknown cells are walls as well
    with NavigationWorld(m) as world:
        rows, cols = np.indices(m.data.shape).reshape(2, -1)
        xy = m.cell_to_world(rows, cols)
        hits = p.rayTestBatch([[x, y, 1.0] for x, y in xy], [[x, y, 0.05] for x, y in xy],
                              physicsClientId=world.client)
        hit_wall = np.array([hit[0] in world.walls for hit in hits])
    np.testing.assert_array_equal(hit_wall, m.blocked().reshape(-1))


def test_the_robot_fits_the_planners_clearance_and_drives_straight_and_turns_on_the_spot():
    with NavigationWorld(open_map()) as world:
        robot = world.robot
        assert 0.10 < robot.footprint_radius() < 0.13
        robot.place((1.0, 2.0), 0.0)
        robot.drive(0.3, 0.0)
        world.step(480)  # 2 s
        xy, yaw = robot.pose()
        assert xy[0] - 1.0 == pytest.approx(0.6, abs=0.06) and abs(xy[1] - 2.0) < 0.02 and abs(yaw) < 0.05
        robot.place((2.0, 2.0), 0.0)
        robot.drive(0.0, 1.5)
        world.step(240)  # 1 s
        xy, yaw = robot.pose()
        assert 1.0 < yaw < 2.0  # most of the commanded 1.5 rad: a skid-steer slips a little
        assert np.linalg.norm(xy - [2.0, 2.0]) < 0.02  # about its own centre
        assert not world.touching_wall()


@pytest.mark.parametrize("kind", ["maze", "obstacles"])
def test_a_dijkstra_plan_between_far_apart_points_is_followed_to_the_goal_without_touching_a_wall(kind):
    m = generate(kind, 40, seed=1)
    assert_followed(m, far_apart_plan(m).path)


def test_a_plan_in_a_turned_map_is_followed_as_well():
    m = rotated(generate("maze", 40, seed=2), math.radians(35))
    assert_followed(m, far_apart_plan(m, seed=1).path)


def find_straight_line_through_a_wall(m: OccupancyMap) -> np.ndarray:
    """Two cells in one row where the robot fits, at most 1.5 m apart, with blocked cells between."""
    fits, blocked = free_space(m, CLEARANCE), m.blocked()
    for row in range(m.height):
        for c0 in np.flatnonzero(fits[row]):
            for c1 in range(c0 + 3, min(c0 + 15, m.width)):
                if fits[row, c1] and blocked[row, c0:c1].any():
                    return m.cell_to_world([row, row], [c0, c1])
    raise AssertionError("no straight line through a wall in this map")


def test_a_path_straight_through_a_wall_ends_in_a_collision():
    m = generate("obstacles", 32, seed=0)
    path = find_straight_line_through_a_wall(m)
    assert path_clearance(m, path) == 0.0
    stopped = follow_plan(m, path)
    assert stopped.collided and not stopped.reached and not stopped.success
    assert stopped.ended_by == "collision" and stopped.time_s < 5.0
    pushing = follow_plan(m, path, config=FollowConfig(stop_on_collision=False))
    assert pushing.collided and not pushing.reached and pushing.ended_by == "time limit"  # the wall holds


def test_bad_paths_are_refused_with_the_reason():
    m = open_map()
    m.data[10:20, 10:20] = OCCUPIED
    m.data[25:30, 25:30] = -1
    with NavigationWorld(m) as world:
        for path, reason in [
            (np.zeros((0, 2)), "empty"),
            ([], "empty"),
            ([1.0, 2.0, 3.0], r"\(K, 2\)"),
            ([[np.nan, 1.0], [2.0, 2.0]], "finite"),
            ([[1.5, 1.5], [3.0, 3.0]], "in a wall: an occupied cell"),
            ([[2.75, 2.75], [3.0, 3.0]], "in a wall: an unknown cell"),
            ([[-1.0, 2.0], [2.0, 2.0]], "outside the map"),
        ]:
            with pytest.raises(ValueError, match=reason):
                world.follow(path)
    with pytest.raises(ValueError, match="empty"):
        follow_plan(m, [])
