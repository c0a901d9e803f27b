"""Nearest point within a fixed distance, for the many small queries of pose screening and
refinement: Open3D's hybrid (fixed-radius) index answers them 2-5x faster than a KD-tree
query (measured on 2 cores, 500-3000 target points, 300-9000 queries)."""

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
            index = o3d.core.nns.NearestNeighborSearch(o3d.core.Tensor(self.data))
            index.hybrid_index(radius)
            self._indices[radius] = index
        return self._indices[radius]

    def nearest_within(self, queries: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """``(found (M,), index (M,))`` of each query's nearest point closer than ``radius``; index 0 where none is."""
        queries = np.ascontiguousarray(queries, dtype=np.float64).reshape(-1, 3)
        if len(queries) == 0:
            return np.zeros(0, bool), np.zeros(0, np.int64)
        idx, _, counts = self._index(float(radius)).hybrid_search(o3d.core.Tensor(queries), float(radius), 1)
        found = counts.numpy() > 0
        return found, np.where(found, idx.numpy()[:, 0], 0).astype(np.int64)
