"""The turns that leave an object from pybullet_data looking the same (its look-alikes).

The random_urdfs objects are not made symmetric, but many are boxes or blobs that look the
same turned half a turn about an axis. Scoring an estimate against the file's orientation alone
would count those turns as 180-degree errors, so the unseen-object benchmark scores against the
look-alikes too (as SYMSOL scores against a solid's symmetries) and also reports the objects
that have none.

A turn S (about the object's centre, in its frame) is a look-alike when
1. the surface turned by S lies on itself: the mean distance from surface samples turned by S
   to a second, independent sampling exceeds that of the unturned samples by less than
   ``SURFACE_TOLERANCE`` of the object's size, and
2. seen from ``VIEWS`` fixed directions, the pictures of R and R @ S differ (mean absolute
   difference) by less than those of R and R turned by ``ANGLE_DEG`` about each camera axis:
   an estimate off by S is then no more wrong to the eye than one off by 2 degrees.
Candidates are the n-fold turns about the object's principal axes (n = 2, 3, 4, 5, 6, 8) and
the 24 turns that permute them (``symsol.principal_frame`` puts those axes on x, y, z).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import trimesh
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from eqrobot.geometry.rotations import random_rotations

SURFACE_TOLERANCE = 0.02  # of the object's radius (its farthest point from its centre)
VIEWS = 4
ANGLE_DEG = 2.0
SAMPLES = 4000
FOLDS = (2, 3, 4, 5, 6, 8)


@cache
def lookalikes(shape: str) -> np.ndarray:
    """``(K, 3, 3)`` turns S (identity first) with the picture of R @ S like that of R."""
    from eqrobot.sim.symsol import SymsolCamera

    candidates = [s for s in _candidates() if _on_itself(shape, s)]
    if not candidates:
        return np.eye(3)[None]
    views = random_rotations(VIEWS, seed=2024)
    with SymsolCamera(128) as camera:
        pictures = [camera.render(shape, r)[0].astype(np.float32) for r in views]

        def difference(turns: list[np.ndarray], on_the_left: bool) -> float:
            return float(np.mean([np.abs(camera.render(shape, t @ r if on_the_left else r @ t)[0] - picture).mean()
                                  for r, picture in zip(views, pictures, strict=True) for t in turns]))

        small = [Rotation.from_rotvec(math.radians(ANGLE_DEG) * axis).as_matrix() for axis in np.eye(3)]
        threshold = difference(small, on_the_left=True)
        kept = [s for s in candidates if difference([s], on_the_left=False) <= threshold]
    return np.concatenate([np.eye(3)[None], _distinct(kept)])


def _on_itself(shape: str, turn: np.ndarray) -> bool:
    from eqrobot.sim.symsol import RADIUS

    points, tree, baseline = _surface(shape)
    return float(tree.query(points @ turn.T)[0].mean()) < baseline + SURFACE_TOLERANCE * RADIUS


@cache
def _surface(shape: str) -> tuple[np.ndarray, cKDTree, float]:
    """Surface samples, a tree of a second sampling, and the samples' mean distance to it."""
    from eqrobot.sim.symsol import solid

    mesh = solid(shape)
    points = trimesh.sample.sample_surface(mesh, SAMPLES, seed=0)[0]
    tree = cKDTree(trimesh.sample.sample_surface(mesh, SAMPLES, seed=1)[0])
    return points, tree, float(tree.query(points)[0].mean())


@cache
def _candidates() -> tuple[np.ndarray, ...]:
    turns = [Rotation.from_rotvec(2 * math.pi * k / n * axis).as_matrix()
             for axis in np.eye(3) for n in FOLDS for k in range(1, n)]
    turns += list(Rotation.create_group("O").as_matrix())
    return tuple(_distinct([t for t in turns if not np.allclose(t, np.eye(3))]))


def _distinct(turns: list[np.ndarray], tolerance_deg: float = 1.0) -> np.ndarray:
    """The turns with near-copies (within ``tolerance_deg``) left out, ``(K, 3, 3)``."""
    kept: list[np.ndarray] = []
    for t in turns:
        if all(np.degrees(np.arccos(np.clip((np.trace(t @ k.T) - 1) / 2, -1, 1))) > tolerance_deg for k in kept):
            kept.append(t)
    return np.array(kept).reshape(-1, 3, 3)
