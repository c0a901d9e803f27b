"""KD-tree queries that use every core only when the query is big enough to gain from it.

scipy starts its worker threads anew on every ``query(..., workers=-1)`` call: about a
millisecond, more than a small query takes on one core. Registration makes hundreds of
small queries per pair (screening, ICP steps), so the choice matters there."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

# Below this many (query points x (neighbours + 8)) one thread is faster (measured on 2 cores).
PARALLEL_WORK = 40_000


def kd_query(tree: cKDTree, queries: np.ndarray, k: int = 1, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """``tree.query(queries, k, **kwargs)`` on one or all cores, whichever is faster for its size."""
    workers = -1 if len(queries) * (k + 8) >= PARALLEL_WORK else 1
    return tree.query(queries, k=k, workers=workers, **kwargs)
