"""The navigation world: an occupancy map turned into walls, and a small skid-steer robot (a
shrunk Husky from pybullet_data) that drives along a planned path, so that a plan can be judged by
whether a robot following it gets to the goal without touching a wall.

Frames: the world frame is the map's frame (``OccupancyMap.frame_id``), metres, z up; walls stand
on the plane z = 0 where the map has occupied (>= 50) or unknown (-1) cells, so a map whose origin
is turned or moved puts its walls where its cells are. The robot's position is the point it turns
about (its chassis' centre of mass), so turning on the spot does not move it.

The controller is pure pursuit with a look-ahead point ("carrot") on the path: it turns on the
spot when the carrot is far off its heading, else drives forward while steering towards it.
A run ends at the goal, on the first touch of a wall (unless told to go on) or at a time limit that
grows with the path's length. Everything is headless (PyBullet DIRECT) and deterministic.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pybullet as p
import pybullet_data
from scipy.spatial import cKDTree

from eqrobot.geometry.rotations import matrix_to_quat, rot_z
from eqrobot.geometry.types import OccupancyMap
from eqrobot.sim.world import ClientOwner

TIME_STEP = 1.0 / 240.0  # PyBullet's default; skid steering on larger steps turns less evenly
WALL_HEIGHT = 0.3  # metres
WALL_RGBA = (0.45, 0.45, 0.5, 1.0)
GROUND_RGBA = (0.85, 0.85, 0.85, 1.0)

HUSKY_URDF = "husky/husky.urdf"
# 0.19 of a Husky (1.01 m x 0.69 m): every point of the robot is within 0.125 m of its turning
# point, inside the planner's 0.15 m clearance (GraphConfig.clearance).
HUSKY_SCALE = 0.19
HUSKY_WHEEL_RADIUS = 0.17775 * HUSKY_SCALE  # from husky.urdf's wheel cylinders
HUSKY_TRACK = 2 * 0.2854 * HUSKY_SCALE  # left to right wheel centres
WHEEL_TORQUE = 2.0  # N m: far above what the 0.34 kg robot needs, so the wheels keep their speed
# A skid-steer turns by dragging its wheels sideways. Full friction along the axle makes the shrunk
# robot hop about a wandering point; a tenth of it turns it about its centre of mass, like tyres
# that slip on a hard floor.
AXLE_FRICTION = 0.1


@dataclass(frozen=True)
class FollowConfig:
    speed: float = 0.4  # m/s, forward
    turn_rate: float = 2.0  # rad/s, at most
    heading_gain: float = 3.0  # rad/s per rad of heading error
    # Metres along the path ahead of the robot. Shorter follows a planner's zigzags more closely but
    # wobbles more; 0.2 with 0.35 rad below touched walls least in a sweep over 70 Dijkstra plans on
    # generated 40-cell maps (turned and not).
    lookahead: float = 0.2
    turn_in_place: float = 0.35  # rad: a carrot further off the heading than this is turned to on the spot
    goal_tolerance: float = 0.1  # metres: reached when the robot stops this close to the last waypoint
    approach_gain: float = 1.5  # 1/s: speed = gain * distance near the goal, so that it stops there
    time_per_metre: float = 6.0  # s of simulated time allowed per metre of path (zigzags take ~4-5) ...
    time_margin: float = 10.0  # ... plus this, for turning
    control_every: int = 8  # physics steps per command (30 Hz at 240 Hz physics)
    stop_on_collision: bool = True
    start_yaw_noise: float = 0.0  # rad: the start heading is off the first segment by up to this (uniform, seeded)


@dataclass
class FollowResult:
    reached: bool  # stopped within goal_tolerance of the last waypoint
    collided: bool  # the robot touched a wall at some physics step
    time_s: float  # simulated
    distance_m: float  # travelled by the robot's turning point
    final_xy: np.ndarray  # (2,) metres, map frame
    goal_error_m: float
    path_length_m: float
    time_limit_s: float
    ended_by: str  # "goal" | "collision" | "time limit"
    wall_time_s: float = 0.0  # wall-clock seconds of the run
    trajectory: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)), repr=False)  # (T, 2) at control rate

    @property
    def success(self) -> bool:
        return self.reached and not self.collided


@dataclass(frozen=True)
class WallBox:
    centre: np.ndarray  # (2,) metres, map frame
    size: np.ndarray  # (2,) metres along the map's columns (x) and rows (y)
    yaw: float  # rad: the map's x axis in its frame


# --- Walls from the map ---------------------------------------------------------------------------


def blocked_rectangles(blocked: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Blocked cells as few (row0, row1, col0, col1) rectangles, ends exclusive, that cover them
    exactly: runs of cells along each row, a run stacked onto the same run of the row above."""
    rectangles = []
    open_runs: dict[tuple[int, int], int] = {}  # (col0, col1) -> first row
    for row in range(blocked.shape[0] + 1):
        runs = set(_runs(blocked[row])) if row < blocked.shape[0] else set()
        for run in [r for r in open_runs if r not in runs]:
            rectangles.append((open_runs.pop(run), row, *run))
        for run in runs - open_runs.keys():
            open_runs[run] = row
    return rectangles


def _runs(line: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], line.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def wall_boxes(m: OccupancyMap) -> list[WallBox]:
    """The map's blocked cells as boxes in the map's frame (its origin's yaw and translation)."""
    boxes = []
    for r0, r1, c0, c1 in blocked_rectangles(m.blocked()):
        local = np.array([(c0 + c1) / 2, (r0 + r1) / 2]) * m.resolution
        centre = m.origin[:2, :2] @ local + m.origin[:2, 3]
        boxes.append(WallBox(centre, np.array([c1 - c0, r1 - r0]) * m.resolution, m.yaw))
    return boxes


def path_clearance(m: OccupancyMap, path, step: float = 0.01) -> float:
    """The closest the path's polyline comes to a blocked cell's square (metres, sampled every
    ``step``). A robot that follows the path exactly touches no wall while driving if its half-width is
    less than this, nor while turning on the spot if its footprint radius is."""
    tracker = PathTracker(np.asarray(path, dtype=np.float64).reshape(-1, 2), 0.0)
    points = np.array([tracker.point_at(s) for s in [*np.arange(0.0, tracker.length, step), tracker.length]])
    local = (points - m.origin[:2, 3]) @ m.origin[:2, :2] / m.resolution  # cells: x along columns
    squares = np.argwhere(m.blocked())[:, ::-1] + 0.5  # centres, (col, row)
    if not len(squares):
        return math.inf
    tree = cKDTree(squares)
    nearest, _ = tree.query(local)
    best = math.inf
    for point, distance in zip(local, nearest, strict=True):
        # the nearest square's centre is at most half a diagonal farther than the nearest centre
        near = squares[tree.query_ball_point(point, distance + math.sqrt(0.5))]
        gap = np.maximum(np.abs(near - point) - 0.5, 0.0)
        best = min(best, float(np.hypot(gap[:, 0], gap[:, 1]).min()))
    return best * m.resolution


# --- The robot ------------------------------------------------------------------------------------


class Husky:
    """pybullet_data's Husky at ``HUSKY_SCALE``, driven by wheel speeds; masses shrunk with its volume."""

    def __init__(self, client: int) -> None:
        self.client = client
        with _bullet_warnings_silenced():  # "no inertial data" for each of the Husky's six marker links
            # True cylinders for the wheels: by default PyBullet makes them polygonal hulls, which bump.
            self.body = p.loadURDF(HUSKY_URDF, [0, 0, 0], globalScaling=HUSKY_SCALE,
                                   flags=p.URDF_USE_IMPLICIT_CYLINDER, physicsClientId=client)
        joints = {p.getJointInfo(self.body, j, physicsClientId=client)[1].decode(): j
                  for j in range(p.getNumJoints(self.body, physicsClientId=client))}
        self.chassis = joints["chassis_joint"]
        self.left = [joints[n] for n in ("front_left_wheel", "rear_left_wheel")]
        self.right = [joints[n] for n in ("front_right_wheel", "rear_right_wheel")]
        self._shrink_masses()
        for wheel in self.left + self.right:
            p.changeDynamics(self.body, wheel, anisotropicFriction=[1, AXLE_FRICTION, 1], physicsClientId=client)
        self.centre_offset = np.zeros(2)
        self.centre_offset = self._centre_offset()

    def _shrink_masses(self) -> None:
        """globalScaling shrinks the shapes only: a 50 kg robot 0.2 m long would sit on its wheels like
        lead. Scale mass by volume (s^3) and inertia by mass x length^2 (s^5)."""
        s = HUSKY_SCALE
        for link in range(-1, p.getNumJoints(self.body, physicsClientId=self.client)):
            mass, _, inertia = p.getDynamicsInfo(self.body, link, physicsClientId=self.client)[:3]
            p.changeDynamics(self.body, link, mass=mass * s**3, localInertiaDiagonal=[i * s**5 for i in inertia],
                             physicsClientId=self.client)

    def _centre_offset(self) -> np.ndarray:
        """The chassis' centre of mass in the base frame (x, y): where a skid-steer turns about."""
        self.place((0.0, 0.0), 0.0)
        state = p.getLinkState(self.body, self.chassis, computeForwardKinematics=True, physicsClientId=self.client)
        return np.asarray(state[0][:2])

    def place(self, xy, yaw: float) -> None:
        """Put the robot at rest with its turning point at ``xy``, heading ``yaw``."""
        base = np.asarray(xy, dtype=np.float64) - rot_z(yaw)[:2, :2] @ self.centre_offset
        p.resetBasePositionAndOrientation(self.body, [*base, 0.002], matrix_to_quat(rot_z(yaw)).tolist(),
                                          physicsClientId=self.client)  # 2 mm up: wheels clear of the ground
        p.resetBaseVelocity(self.body, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)
        for wheel in self.left + self.right:
            p.resetJointState(self.body, wheel, 0.0, 0.0, physicsClientId=self.client)
        self.drive(0.0, 0.0)

    def pose(self) -> tuple[np.ndarray, float]:
        """(x, y) of the turning point and the heading (rad)."""
        base, quat = p.getBasePositionAndOrientation(self.body, physicsClientId=self.client)
        yaw = p.getEulerFromQuaternion(quat)[2]
        return np.asarray(base[:2]) + rot_z(yaw)[:2, :2] @ self.centre_offset, yaw

    def drive(self, speed: float, turn_rate: float) -> None:
        """Forward speed (m/s) and turn rate (rad/s, counter-clockwise) as wheel speeds."""
        left = (speed - turn_rate * HUSKY_TRACK / 2) / HUSKY_WHEEL_RADIUS
        right = (speed + turn_rate * HUSKY_TRACK / 2) / HUSKY_WHEEL_RADIUS
        for wheels, rate in ((self.left, left), (self.right, right)):
            p.setJointMotorControlArray(self.body, wheels, p.VELOCITY_CONTROL, targetVelocities=[rate] * 2,
                                        forces=[WHEEL_TORQUE] * 2, physicsClientId=self.client)

    def footprint_radius(self) -> float:
        """The farthest any part of the robot reaches from its turning point, seen from above."""
        xy, _ = self.pose()
        corners = []
        for link in range(-1, p.getNumJoints(self.body, physicsClientId=self.client)):
            lo, hi = p.getAABB(self.body, link, physicsClientId=self.client)
            corners += [(x, y) for x in (lo[0], hi[0]) for y in (lo[1], hi[1])]
        return float(np.linalg.norm(np.asarray(corners) - xy, axis=1).max())


@contextlib.contextmanager
def _bullet_warnings_silenced():
    """Bullet's C++ code prints to file descriptor 1, past ``sys.stdout``: point it at /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


# --- Following a path -----------------------------------------------------------------------------


class PathTracker:
    """Where the robot is along a polyline and the carrot ``lookahead`` metres ahead of it.
    Progress only moves forward, and only within a window ahead, so a path that passes the same
    place twice is followed in order."""

    def __init__(self, path: np.ndarray, lookahead: float) -> None:
        self.path, self.lookahead = path, lookahead
        self.starts, self.vectors = path[:-1], np.diff(path, axis=0)
        self.lengths = np.linalg.norm(self.vectors, axis=1)
        self.arc = np.concatenate([[0.0], np.cumsum(self.lengths)])
        self.progress = 0.0

    @property
    def length(self) -> float:
        return float(self.arc[-1])

    def carrot(self, xy: np.ndarray) -> np.ndarray:
        self.progress = max(self.progress, self._nearest_arc(xy))
        return self.point_at(self.progress + self.lookahead)

    def _nearest_arc(self, xy: np.ndarray) -> float:
        if not len(self.lengths):
            return 0.0
        t = np.clip(((xy - self.starts) * self.vectors).sum(1) / np.maximum(self.lengths**2, 1e-12), 0.0, 1.0)
        distance = np.linalg.norm(self.starts + t[:, None] * self.vectors - xy, axis=1)
        in_window = (self.arc[1:] >= self.progress) & (self.arc[:-1] <= self.progress + 2 * self.lookahead)
        distance[~in_window] = np.inf
        i = int(np.argmin(distance))
        return float(self.arc[i] + t[i] * self.lengths[i])

    def point_at(self, s: float) -> np.ndarray:
        if s >= self.length:
            return self.path[-1]
        i = int(np.searchsorted(self.arc, s, side="right")) - 1
        return self.starts[i] + (s - self.arc[i]) / max(self.lengths[i], 1e-12) * self.vectors[i]


def pursuit_command(xy: np.ndarray, yaw: float, carrot: np.ndarray, goal: np.ndarray,
                    cfg: FollowConfig) -> tuple[float, float]:
    """(speed, turn rate) towards the carrot: turn on the spot when it is far off the heading,
    slow down in proportion to the heading error and to the distance left near the goal."""
    to_carrot = carrot - xy
    if np.linalg.norm(to_carrot) < 1e-6:
        return 0.0, 0.0
    error = _wrap(math.atan2(to_carrot[1], to_carrot[0]) - yaw)
    turn = float(np.clip(cfg.heading_gain * error, -cfg.turn_rate, cfg.turn_rate))
    if abs(error) > cfg.turn_in_place:
        return 0.0, turn
    speed = cfg.speed * (1.0 - abs(error) / cfg.turn_in_place)
    return min(speed, cfg.approach_gain * float(np.linalg.norm(goal - xy))), turn


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


# --- The world ------------------------------------------------------------------------------------


class NavigationWorld(ClientOwner):
    """One PyBullet client with the map's walls, a ground plane and the robot. Reusable: each
    ``follow`` puts the robot back at the path's start. Close it (or use ``with``). ``seed`` draws
    the start heading's noise (``FollowConfig.start_yaw_noise``); all else is deterministic."""

    def __init__(self, m: OccupancyMap, seed: int = 0, config: FollowConfig | None = None) -> None:
        self.map, self.config = m, config or FollowConfig()
        self.rng = np.random.default_rng(seed)
        self.client = p.connect(p.DIRECT)
        try:
            p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.client)
            p.setGravity(0, 0, -9.8, physicsClientId=self.client)
            p.setTimeStep(TIME_STEP, physicsClientId=self.client)
            self.ground = self._add_ground()
            self.walls = self._add_walls()
            self.robot = Husky(self.client)
        except BaseException:
            self.close()
            raise

    def _add_ground(self) -> int:
        # An infinite plane, not plane.urdf's 200 m slab: a map's origin may be anywhere. PyBullet
        # draws no plane, so what cameras see is a thin slab under the map.
        shape = p.createCollisionShape(p.GEOM_PLANE, physicsClientId=self.client)
        reach = float(np.hypot(self.map.width, self.map.height) * self.map.resolution)
        visual = p.createVisualShape(p.GEOM_BOX, halfExtents=[reach, reach, 0.005], rgbaColor=list(GROUND_RGBA),
                                     physicsClientId=self.client)
        ground = p.createMultiBody(0, shape, physicsClientId=self.client)
        centre = self.map.cell_to_world([(self.map.height - 1) / 2], [(self.map.width - 1) / 2])[0]
        p.createMultiBody(0, -1, visual, basePosition=[*centre, -0.005], physicsClientId=self.client)
        return ground

    def _add_walls(self) -> list[int]:
        shapes: dict[tuple[float, float], tuple[int, int]] = {}  # one shape per size: mazes repeat a few
        walls = []
        for box in wall_boxes(self.map):
            key = (round(float(box.size[0]), 6), round(float(box.size[1]), 6))
            if key not in shapes:
                half = [key[0] / 2, key[1] / 2, WALL_HEIGHT / 2]
                shapes[key] = (p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=self.client),
                               p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=list(WALL_RGBA),
                                                   physicsClientId=self.client))
            walls.append(p.createMultiBody(0, *shapes[key], basePosition=[*box.centre, WALL_HEIGHT / 2],
                                           baseOrientation=matrix_to_quat(rot_z(box.yaw)).tolist(),
                                           physicsClientId=self.client))
        return walls

    def check_start(self, path: np.ndarray) -> None:
        if path.size == 0:
            raise ValueError("the path is empty: nothing to follow")
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"a path is (K, 2) x, y waypoints in metres, got shape {path.shape}")
        if not np.all(np.isfinite(path)):
            raise ValueError("the path has waypoints that are not finite numbers")
        rows, cols = self.map.world_to_cell(path[:1])
        where = f"the path starts at ({path[0, 0]:.2f}, {path[0, 1]:.2f}) m"
        if not self.map.contains_cell(rows, cols)[0]:
            raise ValueError(f"{where}, outside the map")
        value = int(self.map.data[rows[0], cols[0]])
        if value < 0 or value >= 50:
            raise ValueError(f"{where}, in a wall: an {'unknown' if value < 0 else 'occupied'} cell ({value})")

    def touching_wall(self) -> bool:
        """Whether the robot touches anything but the ground (a wall: nothing else is in the world).
        Contact points up to the contact-breaking distance are reported too: only those at 0 or
        below are touches."""
        return any(c[2] != self.ground and c[8] <= 0.0
                   for c in p.getContactPoints(bodyA=self.robot.body, physicsClientId=self.client))

    def follow(self, path, start_yaw: float | None = None) -> FollowResult:
        """Drive the robot along ``path`` ((K, 2) metres, map frame) from its first waypoint, facing the
        first segment unless ``start_yaw`` is given."""
        path = np.asarray(path, dtype=np.float64)
        self.check_start(path)
        began, tracker = time.perf_counter(), PathTracker(path, self.config.lookahead)
        self.robot.place(path[0], self._start_yaw(path) if start_yaw is None else start_yaw)
        limit = self.config.time_margin + self.config.time_per_metre * tracker.length
        trajectory, collided, ended_by = self._drive_along(tracker, limit)
        error = float(np.linalg.norm(path[-1] - trajectory[-1]))
        return FollowResult(reached=error <= self.config.goal_tolerance, collided=collided,
                            time_s=(len(trajectory) - 1) * self.config.control_every * TIME_STEP,
                            distance_m=float(np.linalg.norm(np.diff(trajectory, axis=0), axis=1).sum()),
                            final_xy=trajectory[-1], goal_error_m=error, path_length_m=tracker.length,
                            time_limit_s=limit, ended_by=ended_by, wall_time_s=time.perf_counter() - began,
                            trajectory=trajectory)

    def _drive_along(self, tracker: PathTracker, limit: float) -> tuple[np.ndarray, bool, str]:
        """The control loop: the robot's positions (one per command, the start first), whether it
        touched a wall, and why it stopped."""
        cfg, goal = self.config, tracker.path[-1]
        trajectory, collided, ended_by = [self.robot.pose()[0]], False, "time limit"
        while (len(trajectory) - 1) * cfg.control_every * TIME_STEP < limit:
            xy, yaw = self.robot.pose()
            if np.linalg.norm(goal - xy) < cfg.goal_tolerance / 2:
                ended_by = "goal"
                break
            self.robot.drive(*pursuit_command(xy, yaw, tracker.carrot(xy), goal, cfg))
            collided |= self.step(cfg.control_every)
            trajectory.append(self.robot.pose()[0])
            if collided and cfg.stop_on_collision:
                ended_by = "collision"
                break
        self.robot.drive(0.0, 0.0)
        return np.asarray(trajectory), collided, ended_by

    def _start_yaw(self, path: np.ndarray) -> float:
        ahead = next((q for q in path[1:] if np.linalg.norm(q - path[0]) > 1e-6), path[0] + [1.0, 0.0])
        noise = self.rng.uniform(-1, 1) * self.config.start_yaw_noise
        return math.atan2(ahead[1] - path[0, 1], ahead[0] - path[0, 0]) + noise

    def step(self, n: int) -> bool:
        """Run ``n`` physics steps; whether the robot touched a wall in any of them (a graze can
        last less than a command)."""
        touched = False
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.client)
            touched = touched or self.touching_wall()
        return touched


def follow_plan(m: OccupancyMap, path, seed: int = 0, config: FollowConfig | None = None) -> FollowResult:
    """Build the world of ``m``, follow ``path`` once and close the world (also on errors)."""
    with NavigationWorld(m, seed=seed, config=config) as world:
        return world.follow(path)
