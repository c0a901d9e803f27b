"""Packing boxes: put every box lying on the table into the container, each into its own place, so
that together they fill it (Ravens' packing-boxes).

As in Ravens, a random kd-tree cuts the container's inside into boxes (each cut through one box,
along x or y, leaving none under 5 cm across), the boxes leave 1 cm between neighbours (5 mm at
the walls, where Ravens leaves 1 cm), so the arm's placing error (1-5 mm) does not jam them, and
they start scattered on the table at random poses. The oracle packs the largest box first (the
order a comment in Ravens' code sketches).

Where it differs from Ravens:
- One layer of 4 to 6 boxes in a container 15-22 cm inside, so an episode is short enough to
  evaluate on a CPU; Ravens cuts until no box can be cut, up to 16 boxes in its 5-30 cm container.
- Cuts on a 1 cm grid, so boxes of one size recur, and any of them may fill the places of that size
  (``Goal.alike``); the asset cache holds few box files.
- A box counts when it sits in a place of the cut, within 1 cm and 15 deg (up to its symmetry),
  not by the share of its points inside the container wherever it lies (Ravens' 'zone' metric).
  Each box weighs its footprint's share of all boxes', as its points do in Ravens. Ravens' measure
  is ``ravens_reward``: the share of all boxes' points (a 1 cm grid through each) inside the
  container's walls, so a box that lies anywhere in the container counts, even on another.
"""

from __future__ import annotations

import numpy as np

from eqrobot.geometry.heightmap import RAVENS_BOUNDS
from eqrobot.geometry.transforms import invert
from eqrobot.sim import assets
from eqrobot.sim.tasks.base import Goal, Task, planar_pose

CM = 0.01  # the grid of the cuts: places and boxes measure whole centimetres (boxes less the play)
INSIDE_CM = (15, 22)  # range of the container's inside sides, in cm
MIN_PLACE_CM = 6  # a 5 cm box at least, as in Ravens: wider than the suction cup, easy to see
N_BOXES = (4, 6)
# Between a box and each side of its place: 1 cm between neighbours, 5 mm at a wall. The oracle's
# boxes end up at most 3.6 mm from their places' centres (6 episodes, 30 boxes).
PLAY = 0.005
WALL = 0.005  # assets.container's default
# As tall as the boxes, as in Ravens: a full container is flush with its walls.
DEPTH = BOX_HEIGHT = 0.05
COLOURS = tuple(c for c in assets.COLORS if c != "brown")  # brown is the container's
ZONE_GRID = 0.01  # spacing of the points of a box that Ravens' metric counts
MARGIN = 0.08  # a box's centre this far inside the workspace at least, where the arm places well
GAP = 0.02  # between the circles around the container and the boxes at the start


def cut(rng: np.random.Generator, inside: tuple[int, int], n: int) -> list[tuple[int, int, int, int]] | None:
    """``inside`` (cm) cut into ``n`` places (x0, y0, x1, y1), cm from the inside's corner: a
    random place cut along a random axis at a random whole cm, each part ``MIN_PLACE_CM`` at least.
    None when no place is left to cut before there are ``n``."""
    places = [(0, 0, *inside)]
    while len(places) < n:
        cuttable = [(i, axis) for i, place in enumerate(places) for axis in (0, 1)
                    if place[axis + 2] - place[axis] >= 2 * MIN_PLACE_CM]
        if not cuttable:
            return None
        i, axis = cuttable[rng.integers(len(cuttable))]
        place = places.pop(i)
        at = int(rng.integers(place[axis] + MIN_PLACE_CM, place[axis + 2] - MIN_PLACE_CM + 1))
        low, high = list(place), list(place)
        low[axis + 2] = high[axis] = at
        places += [tuple(low), tuple(high)]
    return places


def random_cut(rng: np.random.Generator, attempts: int = 1000) -> tuple[tuple[int, int], list]:
    """A random container inside (cm) and its cut into 4 to 6 places: another size when the cut
    gets stuck (6 places of 6 cm fit few insides)."""
    for _ in range(attempts):
        n = int(rng.integers(N_BOXES[0], N_BOXES[1] + 1))
        inside = tuple(int(side) for side in rng.integers(INSIDE_CM[0], INSIDE_CM[1] + 1, size=2))
        places = cut(rng, inside, n)
        if places is not None:
            return inside, places
    raise RuntimeError("could not cut a container into boxes")


def box_size(place) -> tuple[float, float]:
    """The footprint of the box for ``place`` (cm), long side first: the box's x (its URDF's size)."""
    x0, y0, x1, y1 = place
    return tuple(sorted(((x1 - x0) * CM - 2 * PLAY, (y1 - y0) * CM - 2 * PLAY), reverse=True))


def place_pose(container: np.ndarray, inside: tuple[int, int], place) -> np.ndarray:
    """Where the box's centre sits in ``place`` of the container at ``container`` (x, y, yaw): its
    long side along the place's long side."""
    x0, y0, x1, y1 = place
    x, y = ((x0 + x1) / 2 - inside[0] / 2) * CM, ((y0 + y1) / 2 - inside[1] / 2) * CM
    turn = 0.0 if x1 - x0 >= y1 - y0 else np.pi / 2
    cx, cy, yaw = container
    return planar_pose(cx + x * np.cos(yaw) - y * np.sin(yaw), cy + x * np.sin(yaw) + y * np.cos(yaw),
                       WALL + BOX_HEIGHT / 2, yaw + turn)


def container_origin_height(inside: tuple[int, int]) -> float:
    """Height of ``assets.container``'s origin, its centroid (floor and walls), above its bottom."""
    ix, iy = inside[0] * CM, inside[1] * CM
    floor = (ix + 2 * WALL) * (iy + 2 * WALL) * WALL
    walls = 2 * WALL * DEPTH * (ix + 2 * WALL + iy)
    return (floor * WALL / 2 + walls * (WALL + DEPTH / 2)) / (floor + walls)


class PackingBoxes(Task):
    name = "packing-boxes"
    max_steps = N_BOXES[1] + 2  # the time limit registered for gymnasium; reset sets this episode's own

    def reset(self, world, rng: np.random.Generator) -> None:
        inside, places = random_cut(rng)
        # The largest first: the oracle packs in goal order.
        places.sort(key=lambda place: -np.prod(box_size(place)))
        sizes = [box_size(place) for place in places]
        container_at, *boxes_at = scatter(rng, inside, sizes)
        urdf = assets.container((inside[0] * CM, inside[1] * CM, DEPTH), WALL, assets.COLORS["brown"])
        assets.load(world.client, urdf, planar_pose(*container_at[:2], container_origin_height(inside),
                                                    container_at[2]), fixed=True)
        self.zone = (planar_pose(*container_at[:2], 0.0, container_at[2]), np.array(inside) * CM)
        colours = rng.choice(COLOURS, len(places))
        boxes = [add_box(world, pose, size, str(colour)) for pose, size, colour in zip(boxes_at, sizes, colours,
                                                                                        strict=True)]
        total = sum(np.prod(size) for size in sizes)
        top = np.array([0.0, 0.0, BOX_HEIGHT / 2])
        self.goals = []
        for box, size, place in zip(boxes, sizes, places, strict=True):
            # Boxes of one size look alike: any of them fills any place of that size.
            alike = tuple(other for other, other_size in zip(boxes, sizes, strict=True) if other_size == size)
            symmetry = np.pi / 2 if size[0] == size[1] else np.pi  # a box looks the same turned half way
            self.goals.append(Goal(box, place_pose(container_at, inside, place), top, symmetry,
                                   float(np.prod(size) / total), alike=alike))
        self.max_steps = len(boxes) + 2  # one action per box, two more for a box that missed its place
        self.box_points = {box: grid_points(size) for box, size in zip(boxes, sizes, strict=True)}

    def ravens_reward(self, world, goals=None) -> float:
        """Ravens' 'zone' metric: the share of all boxes' points inside the container's walls (one
        goal step in Ravens: ``goals`` are all the task's)."""
        container, inside = self.zone
        to_container = invert(container)
        inside_points = total = 0
        for box, points in self.box_points.items():
            local = (to_container @ world.pose_of(box) @ points.T)[:2].T
            inside_points += int(np.all(np.abs(local) <= inside / 2, axis=1).sum())
            total += len(points)
        return inside_points / total


def grid_points(size) -> np.ndarray:
    """Homogeneous points (n, 4) on a ``ZONE_GRID`` grid through a box of footprint ``size`` and
    height ``BOX_HEIGHT``, in its frame: as many as its volume holds cells, like Ravens' points."""
    axes = [(np.arange(int(round(extent / ZONE_GRID))) + 0.5) * ZONE_GRID - extent / 2
            for extent in (*size, BOX_HEIGHT)]
    xyz = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    return np.hstack([xyz, np.ones((len(xyz), 1))])


def scatter(rng: np.random.Generator, inside: tuple[int, int], sizes, attempts: int = 1000) -> list[np.ndarray]:
    """Random (x, y, yaw) of the container with ``inside`` (cm), then of the boxes of footprints
    ``sizes``, each inside the circle around it (its half diagonal) and the circles ``GAP`` apart.

    The container's centre is ``MARGIN`` plus its inside's half diagonal inside the workspace, so
    every place is ``MARGIN`` inside, and every box's centre ``MARGIN`` inside, its circle in the
    workspace. One at a time, the container first; all again when one finds no room."""
    ix, iy = inside[0] * CM, inside[1] * CM
    radii = [np.hypot(ix + 2 * WALL, iy + 2 * WALL) / 2] + [np.hypot(*size) / 2 for size in sizes]
    margins = [MARGIN + np.hypot(ix, iy) / 2] + [max(MARGIN, radius) for radius in radii[1:]]
    (x0, x1), (y0, y1), _ = RAVENS_BOUNDS
    for _ in range(attempts):
        poses: list[np.ndarray] = []
        for radius, margin in zip(radii, margins, strict=True):
            for _ in range(100):
                candidate = np.array([rng.uniform(x0 + margin, x1 - margin), rng.uniform(y0 + margin, y1 - margin),
                                      rng.uniform(-np.pi, np.pi)])
                if all(np.linalg.norm(candidate[:2] - q[:2]) >= radius + r + GAP
                       for q, r in zip(poses, radii, strict=False)):
                    poses.append(candidate)
                    break
            else:
                break
        if len(poses) == len(radii):
            return poses
    raise RuntimeError(f"could not place a container and {len(sizes)} boxes in the workspace")


def add_box(world, pose: np.ndarray, size, colour: str) -> int:
    x, y, yaw = pose
    urdf = assets.box((*size, BOX_HEIGHT), assets.COLORS[colour])
    return assets.load(world.client, urdf, planar_pose(x, y, BOX_HEIGHT / 2, yaw))
