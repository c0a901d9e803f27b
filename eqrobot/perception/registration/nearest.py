"""Nearest-point queries on Open3D's indices.

``RadiusIndex``: the nearest point within a fixed distance, for the many small queries of pose
screening and refinement; Open3D's hybrid (fixed-radius) index answers them 2-5x faster than a
KD-tree query (measured on 2 cores, 500-3000 target points, 300-9000 queries).
``k_nearest``: each centre's k nearest points in order, for the descriptor patches; 1.7x faster
than sorting all distances with torch and 10 % faster than a KD-tree on a 500-point cloud, as
fast as either on thousands of points (measured on 2 cores)."""

from __future__ import annotations

import numpy as np
import open3d as o3d


class RadiusIndex:
    """``nearest_within(queries, radius)`` over fixed ``data`` points; one index per radius, built on first use."""

    def __init__(self, points: np.ndarray) -> None:
        self.data = np.ascontiguousarray(points, dtype=np.float64)
        self._indices: dict[float, o3d.core.nns.NearestNeighborSearch] = {}

    def _index(self, radius: float) -> o3d.core.nns.NearestNeighborSearch:
        if radius not in self._indices:
            index = o3d.core.nns.NearestNeighborSearch(_tensor(self.data))
            index.hybrid_index(radius)
            self._indices[radius] = index
        return self._indices[radius]

    def nearest_within(self, queries: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """``(found (M,), index (M,))`` of each query's nearest point closer than ``radius``; index 0 where none is."""
        queries = np.reshape(queries, (-1, 3))
        if len(queries) == 0:
            return np.zeros(0, bool), np.zeros(0, np.int64)
        idx, _, counts = self._index(float(radius)).hybrid_search(_tensor(queries), float(radius), 1)
        found = counts.numpy() > 0
        return found, np.where(found, idx.numpy()[:, 0], 0).astype(np.int64)


def k_nearest(points: np.ndarray, queries: np.ndarray, k: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """``(distances, indices)`` ``(M, k)`` of each query's ``k`` nearest ``points``, nearest
    first; distances from ``radius`` on are inf, as from ``cKDTree.query``."""
    index = o3d.core.nns.NearestNeighborSearch(_tensor(points))
    index.knn_index()
    idx, squared = index.knn_search(_tensor(queries), k)
    dist = np.sqrt(squared.numpy())
    return np.where(dist < radius, dist, np.inf), idx.numpy().astype(np.int64)


def _tensor(points: np.ndarray) -> o3d.core.Tensor:
    """``points`` as the contiguous float64 tensor Open3D's searches take."""
    return o3d.core.Tensor(np.ascontiguousarray(points, dtype=np.float64))
