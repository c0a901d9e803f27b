"""Geometric graphs in a map's free space: nodes sampled where a robot of radius ``clearance``
fits (a scrambled Halton sequence, PRM-style, or a square lattice), joined to their k nearest
neighbours (within ``max_edge`` metres) by straight edges that stay in that free space.
Node positions are metres in the map's frame, so turning the map's origin turns the graph.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from scipy.stats import qmc

from eqrobot.geometry.types import OccupancyMap
from eqrobot.policy.navigation.maps import clearance_field

SAMPLERS = ("halton", "grid")
BRIDGE_REACH = 3.0  # longest bridging edge, in k-nearest edge lengths


@dataclass
class GraphConfig:
    sampler: str = "halton"  # halton (PRM-style) | grid (square lattice)
    density: float = 40.0  # nodes per square metre of free space
    nodes: int | None = None  # or this many sampled nodes (overrides density; filling gaps adds a few)
    k: int = 8  # nearest neighbours tried per node
    max_edge: float | None = None  # metres; None: 2.5 / sqrt(density)
    clearance: float = 0.15  # metres from any occupied or unknown cell (the robot's radius)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if not self.density > 0 or self.k < 1 or self.clearance < 0:
            raise ValueError("density must be positive, k at least 1 and clearance not negative")
        if self.nodes is not None and self.nodes < 2:
            raise ValueError(f"a graph needs at least 2 nodes, got {self.nodes}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GeometricGraph:
    positions: np.ndarray  # (N, 2) metres in the map frame
    edges: np.ndarray  # (E, 2) node indices, directed, each edge in both directions
    clearance: np.ndarray  # (N,) metres from the node's cell centre to the nearest blocked cell's square
    frame_id: str = "map"

    def __post_init__(self) -> None:
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 2)
        self.edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        self.clearance = np.asarray(self.clearance, dtype=np.float64).reshape(-1)

    @property
    def num_nodes(self) -> int:
        return len(self.positions)

    @property
    def lengths(self) -> np.ndarray:
        return np.linalg.norm(self.positions[self.edges[:, 1]] - self.positions[self.edges[:, 0]], axis=1)

    def adjacency(self, weights: np.ndarray | None = None) -> sparse.csr_matrix:
        w = self.lengths if weights is None else np.asarray(weights, dtype=np.float64)
        n = self.num_nodes
        return sparse.csr_matrix((w, (self.edges[:, 0], self.edges[:, 1])), shape=(n, n))

    def transformed(self, rotation: np.ndarray, translation=(0.0, 0.0)) -> GeometricGraph:
        """The same graph moved rigidly (2x2 ``rotation``, a reflection allowed)."""
        positions = self.positions @ np.asarray(rotation, dtype=np.float64).T + np.asarray(translation)
        return GeometricGraph(positions, self.edges.copy(), self.clearance.copy(), self.frame_id)


def build_graph(m: OccupancyMap, config: GraphConfig | None = None) -> GeometricGraph:
    cfg = config or GraphConfig()
    distance = clearance_field(m)
    free = distance > cfg.clearance if cfg.clearance > 0 else ~m.blocked()
    if not free.any():
        raise ValueError(f"no free cell is {cfg.clearance} m from every obstacle or unknown cell")
    count = cfg.nodes or max(2, round(cfg.density * free.sum() * m.resolution**2))
    local = (_lattice(free, count) if cfg.sampler == "grid" else _halton(free, count, cfg.seed)) * m.resolution
    spacing = math.sqrt(free.sum() * m.resolution**2 / max(count, 1))
    local = _filled(free, local, spacing, m.resolution)
    positions = local @ m.origin[:2, :2].T + m.origin[:2, 3]
    max_edge = cfg.max_edge or 2.5 * spacing
    edges = _knn_edges(positions, cfg.k, max_edge)
    edges = edges[segments_free(m, free, positions[edges[:, 0]], positions[edges[:, 1]])]
    positions, edges = _bridged(m, free, positions, edges, BRIDGE_REACH * max_edge, step=spacing)
    rows, cols = m.world_to_cell(positions)
    return GeometricGraph(positions, edges, distance[rows, cols], m.frame_id)


def segments_free(m: OccupancyMap, free: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each straight segment a[i] -> b[i] (world metres) stays in ``free`` cells,
    checked every half cell."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    if not len(a):
        return np.zeros(0, dtype=bool)
    steps = int(np.ceil(np.linalg.norm(b - a, axis=1).max() / (0.5 * m.resolution))) + 1
    t = np.linspace(0.0, 1.0, steps)[None, :, None]
    points = a[:, None] + t * (b - a)[:, None]
    rows, cols = m.world_to_cell(points.reshape(-1, 2))
    inside = m.contains_cell(rows, cols)
    ok = np.zeros(len(rows), dtype=bool)
    ok[inside] = free[rows[inside], cols[inside]]
    return ok.reshape(len(a), steps).all(axis=1)


def components(graph: GeometricGraph) -> np.ndarray:
    """The connected component of each node."""
    return csgraph.connected_components(graph.adjacency(), directed=False)[1]


def _halton(free: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` scrambled-Halton points in free cells, (col, row) in cells from the map corner."""
    h, w = free.shape
    sampler = qmc.Halton(d=2, scramble=True, seed=seed)
    found: list[np.ndarray] = []
    need = count
    for _ in range(50):
        draw = sampler.random(max(64, int(need / max(free.mean(), 1e-3) * 1.3))) * [w, h]
        keep = draw[free[draw[:, 1].astype(int), draw[:, 0].astype(int)]]
        found.append(keep[:need])
        need -= len(found[-1])
        if need <= 0:
            break
    return np.concatenate(found)


def _lattice(free: np.ndarray, count: int) -> np.ndarray:
    """Cell-aligned square lattice in free cells with about ``count`` points."""
    step = max(1, round(math.sqrt(free.sum() / count)))
    rows, cols = np.nonzero(free)
    keep = (rows % step == step // 2) & (cols % step == step // 2)
    return np.stack([cols[keep] + 0.5, rows[keep] + 0.5], axis=1)


def _filled(free: np.ndarray, local: np.ndarray, spacing: float, resolution: float) -> np.ndarray:
    """``local`` points (metres from the map corner) plus cell centres wherever free space is
    farther than ``spacing`` from every point: a passage narrower than the sampling's spacing
    otherwise gets too few nodes to cross it with edges of the usual length."""
    rows, cols = np.nonzero(free)
    centres = np.stack([cols + 0.5, rows + 0.5], axis=1) * resolution
    distance, _ = cKDTree(local).query(centres, distance_upper_bound=spacing)
    gaps = centres[~np.isfinite(distance)]
    added: list[np.ndarray] = []
    while len(gaps):
        added.append(gaps[0])
        gaps = gaps[np.linalg.norm(gaps - gaps[0], axis=1) > spacing]
    return np.concatenate([local, np.array(added).reshape(-1, 2)])


def _knn_edges(positions: np.ndarray, k: int, max_edge: float) -> np.ndarray:
    k = min(k, len(positions) - 1)
    distance, index = cKDTree(positions).query(positions, k=k + 1, distance_upper_bound=max_edge)
    src = np.repeat(np.arange(len(positions)), k)
    dst = index[:, 1:].reshape(-1)
    keep = np.isfinite(distance[:, 1:].reshape(-1))
    pairs = np.stack([src[keep], dst[keep]], axis=1)
    pairs = np.concatenate([pairs, pairs[:, ::-1]])
    return np.unique(pairs, axis=0)


def _bridged(m: OccupancyMap, free: np.ndarray, positions: np.ndarray, edges: np.ndarray, reach: float,
             step: float, rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``positions`` and ``edges`` with bridges between parts of the graph that lie in one
    connected piece of free space: the shortest straight free line (up to ``reach`` metres)
    between each two such parts, cut into edges of at most ``step`` metres so that no edge is
    longer than those the planner learned on."""
    region = ndimage.label(free)[0]
    for _ in range(rounds):
        n = len(positions)
        rows, cols = m.world_to_cell(positions)
        node_region = region[rows, cols]
        label = csgraph.connected_components(sparse.csr_matrix(
            (np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)), directed=False)[1]
        stranded = np.flatnonzero(label != _main_label_per_region(label, node_region)[node_region])
        if not len(stranded):
            break
        distance, near = cKDTree(positions).query(positions[stranded], k=min(24, n), distance_upper_bound=reach)
        src, dst, length = np.repeat(stranded, near.shape[1]), near.reshape(-1), distance.reshape(-1)
        ok = np.isfinite(length)
        src, dst, length = src[ok], dst[ok], length[ok]
        keep = (label[src] != label[dst]) & (node_region[src] == node_region[dst])
        src, dst, length = src[keep], dst[keep], length[keep]
        clear = segments_free(m, free, positions[src], positions[dst])
        src, dst, length = src[clear], dst[clear], length[clear]
        if not len(src):
            break
        # one bridge, the shortest, per pair of parts
        order = np.argsort(length)
        _, first = np.unique(np.sort(np.stack([label[src], label[dst]], 1), axis=1)[order], axis=0, return_index=True)
        positions, edges = _add_chains(positions, edges, src[order[first]], dst[order[first]], step)
    return positions, edges


def _add_chains(positions: np.ndarray, edges: np.ndarray, src: np.ndarray, dst: np.ndarray,
                step: float) -> tuple[np.ndarray, np.ndarray]:
    """Straight chains of nodes from each ``src`` to its ``dst``, links at most ``step`` long."""
    new_points, new_edges = [], []
    n = len(positions)
    for a, b in zip(src, dst, strict=True):
        pieces = max(1, int(np.ceil(np.linalg.norm(positions[b] - positions[a]) / step)))
        inner = positions[a] + np.linspace(0, 1, pieces + 1)[1:-1, None] * (positions[b] - positions[a])
        chain = [a, *range(n, n + len(inner)), b]
        n += len(inner)
        new_points.append(inner)
        new_edges += [(i, j) for i, j in zip(chain[:-1], chain[1:], strict=True)]
    pairs = np.array(new_edges, dtype=np.int64).reshape(-1, 2)
    positions = np.concatenate([positions, *new_points]) if new_points else positions
    return positions, np.unique(np.concatenate([edges, pairs, pairs[:, ::-1]]), axis=0)


def _main_label_per_region(label: np.ndarray, region: np.ndarray) -> np.ndarray:
    """For each free-space region, the graph component holding most of its nodes."""
    pairs, counts = np.unique(np.stack([region, label], axis=1), axis=0, return_counts=True)
    pairs = pairs[np.lexsort((-counts, pairs[:, 0]))]  # by region, the biggest component first
    first = np.ones(len(pairs), dtype=bool)
    first[1:] = pairs[1:, 0] != pairs[:-1, 0]
    main = np.full(region.max() + 1, -1)
    main[pairs[first, 0]] = pairs[first, 1]
    return main
