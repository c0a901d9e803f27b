"""Generated maps (random obstacle fields, mazes, rooms and corridors) as ROS occupancy maps,
and the free space a robot of a given radius can use in any map.

Every generator is deterministic in its seed and returns an
:class:`~eqrobot.geometry.types.OccupancyMap` (0 free, 100 occupied) with a one-cell wall
around it, so that any map is closed.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from eqrobot.geometry.types import OccupancyMap

FREE, OCCUPIED, UNKNOWN = 0, 100, -1
KINDS = ("obstacles", "maze", "rooms")
RESOLUTION = 0.1  # metres per cell of the generated maps


def generate(kind: str, size: int, seed: int, resolution: float = RESOLUTION) -> OccupancyMap:
    """A ``size`` x ``size``-cell map of ``kind`` (one of ``KINDS``)."""
    makers = {"obstacles": random_obstacles, "maze": maze, "rooms": rooms}
    if kind not in makers:
        raise ValueError(f"map kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if size < 16:
        raise ValueError(f"maps need at least 16 cells a side, got {size}")
    return makers[kind](size, seed, resolution)


def random_obstacles(size: int, seed: int, resolution: float = RESOLUTION, density: float = 0.2) -> OccupancyMap:
    """Rectangles of 2-6 cells a side dropped at random until ``density`` of the map is covered."""
    rng = np.random.default_rng(seed)
    grid = _walled(size)
    while (grid[1:-1, 1:-1] == OCCUPIED).mean() < density:
        h, w = rng.integers(2, 7, size=2)
        r, c = rng.integers(1, size - 1, size=2)
        grid[r:r + h, c:c + w] = OCCUPIED
    return _as_map(_walled_border(grid), resolution)


def maze(size: int, seed: int, resolution: float = RESOLUTION, corridor: int = 5) -> OccupancyMap:
    """A perfect maze (randomised depth-first search) with corridors ``corridor`` cells wide and
    one-cell walls, a few walls knocked out so that there are loops (several routes to compare)."""
    rng = np.random.default_rng(seed)
    pitch = corridor + 1
    n = max(2, (size - 1) // pitch)
    grid = np.full((size, size), OCCUPIED, dtype=np.int8)
    for i in range(n):
        for j in range(n):
            grid[1 + i * pitch:1 + i * pitch + corridor, 1 + j * pitch:1 + j * pitch + corridor] = FREE
    visited = np.zeros((n, n), dtype=bool)
    stack = [(int(rng.integers(n)), int(rng.integers(n)))]
    visited[stack[0]] = True
    while stack:
        i, j = stack[-1]
        options = [(i + di, j + dj) for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1))
                   if 0 <= i + di < n and 0 <= j + dj < n and not visited[i + di, j + dj]]
        if not options:
            stack.pop()
            continue
        ni, nj = options[rng.integers(len(options))]
        _open_wall(grid, (i, j), (ni, nj), pitch, corridor)
        visited[ni, nj] = True
        stack.append((ni, nj))
    for _ in range(max(1, n * n // 6)):
        i, j = rng.integers(n, size=2)
        di, dj = ((1, 0), (0, 1))[rng.integers(2)]
        if i + di < n and j + dj < n:
            _open_wall(grid, (int(i), int(j)), (int(i + di), int(j + dj)), pitch, corridor)
    return _as_map(_walled_border(grid), resolution)


def rooms(size: int, seed: int, resolution: float = RESOLUTION, room: int = 12, door: int = 5) -> OccupancyMap:
    """A grid of rooms about ``room`` cells wide, each wall between neighbours with a door of
    ``door`` cells (some walls left out), and a few pieces of furniture."""
    rng = np.random.default_rng(seed)
    grid = _walled(size)
    n = max(1, round((size - 2) / room))
    edges = np.linspace(0, size - 1, n + 1).round().astype(int)
    for k in edges[1:-1]:
        grid[k, :] = OCCUPIED
        grid[:, k] = OCCUPIED
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        for k in edges[1:-1]:
            for along_rows in (True, False):
                if rng.random() < 0.15:
                    span = slice(a + 1, b)  # no wall here: an open-plan pair of rooms
                else:
                    start = int(rng.integers(a + 1, max(a + 2, b - door)))
                    span = slice(start, min(start + door, b))
                if along_rows:
                    grid[span, k] = FREE
                else:
                    grid[k, span] = FREE
    for _ in range(n * n):
        h, w = rng.integers(1, 4, size=2)
        r, c = rng.integers(2, size - 4, size=2)
        grid[r:r + h, c:c + w] = OCCUPIED
    return _as_map(_walled_border(grid), resolution)


def free_space(m: OccupancyMap, clearance: float = 0.0) -> np.ndarray:
    """Cells (bool, rows x cols) whose centre is more than ``clearance`` metres from every
    occupied or unknown cell's square (ROS: >= 50 is occupied, -1 unknown)."""
    return clearance_field(m) > clearance if clearance > 0 else ~m.blocked()


def clearance_field(m: OccupancyMap) -> np.ndarray:
    """Metres from each cell's centre to the nearest occupied or unknown cell's square."""
    # the distance transform measures centre to centre; a blocked square's edge is half a cell nearer
    return (ndimage.distance_transform_edt(~m.blocked()) - 0.5) * m.resolution


def _walled(size: int) -> np.ndarray:
    return _walled_border(np.zeros((size, size), dtype=np.int8))


def _walled_border(grid: np.ndarray) -> np.ndarray:
    grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = OCCUPIED
    return grid


def _open_wall(grid: np.ndarray, a: tuple[int, int], b: tuple[int, int], pitch: int, corridor: int) -> None:
    (i, j), (k, l) = sorted([a, b])
    top, left = 1 + i * pitch, 1 + j * pitch
    if k > i:  # neighbour below: the wall row under cell (i, j)
        grid[top + corridor, left:left + corridor] = FREE
    else:
        grid[top:top + corridor, left + corridor] = FREE


def _as_map(grid: np.ndarray, resolution: float) -> OccupancyMap:
    return OccupancyMap(data=grid, resolution=resolution)


def rotated(m: OccupancyMap, angle: float, about: np.ndarray | None = None) -> OccupancyMap:
    """The same grid turned by ``angle`` radians about the world point ``about`` (the map's
    centre by default): the origin's pose moves, the cells stay as they are."""
    centre = m.cell_to_world([(m.height - 1) / 2], [(m.width - 1) / 2])[0] if about is None else np.asarray(about)
    c, s = math.cos(angle), math.sin(angle)
    turn = np.eye(4)
    turn[:2, :2] = [[c, -s], [s, c]]
    turn[:2, 3] = centre - turn[:2, :2] @ centre
    return OccupancyMap(data=m.data.copy(), resolution=m.resolution, origin=turn @ m.origin, frame_id=m.frame_id)
