"""Discrete grids on SO(3) and SO(2) with nearest-cell lookup.

SO(3): the HEALPix-Hopf grid (Yershova et al. 2010; used by IPDF and Image2Sphere).
A rotation is written ``R = Rz(phi) @ Ry(theta) @ Rz(psi)``: ``(theta, phi)`` is the
direction of the rotated Z axis, taken from the HEALPix tessellation of the sphere
with ``nside = 2**level`` (``12 nside^2`` equal-area pixels), and ``psi``, the turn
about that axis, takes ``6 nside`` equally spaced values. So level ``L`` has
``72 * 8**L`` cells:

=====  ==========  ==============  ===============
level  cells       mean spacing    covering radius
=====  ==========  ==============  ===============
0      72          59.1 deg        53.0 deg
1      576         29.5 deg        29.0 deg
2      4,608       14.8 deg        14.5 deg
3      36,864      7.4 deg         7.2 deg
4      294,912     3.7 deg         3.6 deg
5      2,359,296   1.8 deg         1.8 deg
=====  ==========  ==============  ===============

"Mean spacing" is ``(8 pi^2 / N)^(1/3)`` (the side of a cube-shaped cell in the
rotation-angle metric: SO(3) has volume ``8 pi^2`` when a small
rotation of angle ``a`` has length ``a``). The covering radius bounds the
geodesic distance from any rotation to its nearest cell centre. It was measured
(10^6 uniform random rotations per level, then hill-climbing from the 300 worst
ones: 50.9, 27.8, 13.9, 6.90, 3.44, 1.71 deg) and rounded up by about 4 %;
``tests/test_grids.py`` re-checks it with random rotations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.spatial import cKDTree

from eqrobot.geometry.rotations import _as_float, matrix_to_quat, rot_y, rot_z

SO3_GRID_SIZES = {level: 72 * 8**level for level in range(6)}

# Measured, then rounded up (see the module docstring).
SO3_COVERING_RADIUS_DEG = {0: 53.0, 1: 29.0, 2: 14.5, 3: 7.2, 4: 3.6, 5: 1.8}


def healpix_pix2ang(nside: int, pix=None) -> tuple[np.ndarray, np.ndarray]:
    """Polar angle ``theta`` and azimuth ``phi`` of HEALPix pixel centres (RING order)."""
    npix = 12 * nside * nside
    p = np.arange(npix) if pix is None else np.asarray(pix, dtype=np.int64)
    ncap = 2 * nside * (nside - 1)
    z = np.empty(p.shape)
    phi = np.empty(p.shape)

    north = p < ncap
    pn = p[north]
    i = np.floor((1 + np.sqrt(1 + 2 * pn)) / 2).astype(np.int64)
    j = pn - 2 * i * (i - 1) + 1
    z[north] = 1 - i**2 / (3.0 * nside**2)
    phi[north] = np.pi / (2 * i) * (j - 0.5)

    south = p >= npix - ncap
    ps = npix - p[south]
    i = np.floor((1 + np.sqrt(2 * ps - 1)) / 2).astype(np.int64)
    j = 4 * i + 1 - (ps - 2 * i * (i - 1))
    z[south] = -1 + i**2 / (3.0 * nside**2)
    phi[south] = np.pi / (2 * i) * (j - 0.5)

    belt = ~(north | south)
    pb = p[belt] - ncap
    i = pb // (4 * nside) + nside
    j = pb % (4 * nside) + 1
    shift = (i - nside + 1) % 2
    z[belt] = 4.0 / 3.0 - 2.0 * i / (3.0 * nside)
    phi[belt] = np.pi / (2 * nside) * (j - shift / 2.0)

    return np.arccos(np.clip(z, -1.0, 1.0)), phi


def zyz_to_matrix(phi, theta, psi) -> np.ndarray:
    """``Rz(phi) @ Ry(theta) @ Rz(psi)``."""
    return rot_z(phi) @ rot_y(theta) @ rot_z(psi)


@lru_cache(maxsize=4)
def _so3_grid_matrices(level: int) -> np.ndarray:
    nside = 2**level
    theta, phi = healpix_pix2ang(nside)
    psi = np.arange(6 * nside) * (2 * np.pi / (6 * nside))
    # Cell order: direction-major, then psi, so cell // (6 nside) is the pixel.
    th = np.repeat(theta, psi.size)
    ph = np.repeat(phi, psi.size)
    ps = np.tile(psi, theta.size)
    R = zyz_to_matrix(ph, th, ps).astype(np.float32)
    R.setflags(write=False)
    return R


@dataclass
class SO3Grid:
    """HEALPix-Hopf grid on SO(3) at a resolution ``level`` (0..5).

    ``rotations`` is ``(N, 3, 3)`` float32 (read-only, cached per level);
    ``nearest(R)`` returns the index of the closest cell and the geodesic distance.
    """

    level: int
    _tree: cKDTree | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.level not in SO3_GRID_SIZES:
            raise ValueError(f"SO3Grid level must be in 0..5, got {self.level}")

    @property
    def size(self) -> int:
        return SO3_GRID_SIZES[self.level]

    def __len__(self) -> int:
        return self.size

    @property
    def rotations(self) -> np.ndarray:
        return _so3_grid_matrices(self.level)

    @property
    def quaternions(self) -> np.ndarray:
        return matrix_to_quat(self.rotations.astype(np.float64))

    @property
    def mean_spacing_deg(self) -> float:
        return float(np.degrees((8 * np.pi**2 / self.size) ** (1.0 / 3.0)))

    @property
    def covering_radius_deg(self) -> float:
        return SO3_COVERING_RADIUS_DEG[self.level]

    def _kdtree(self) -> cKDTree:
        # q and -q are the same rotation: index both so the Euclidean nearest
        # neighbour in R^4 is the geodesic nearest rotation.
        if self._tree is None:
            q = self.quaternions
            self._tree = cKDTree(np.concatenate([q, -q]))
        return self._tree

    def nearest(self, R) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest cell and its geodesic distance (radians) for each rotation."""
        R = _as_float(R)
        q = matrix_to_quat(R).reshape(-1, 4)
        chord, idx = self._kdtree().query(q)
        idx = np.asarray(idx) % self.size
        angle = 4.0 * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))
        shape = R.shape[:-2]
        return idx.reshape(shape), angle.reshape(shape)


@dataclass(frozen=True)
class SO2Grid:
    """``n`` equally spaced angles ``2 pi k / n`` (k = 0..n-1); spacing ``2 pi / n``."""

    n: int

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"SO2Grid needs n >= 1, got {self.n}")

    @property
    def angles(self) -> np.ndarray:
        return np.arange(self.n) * (2 * np.pi / self.n)

    @property
    def spacing(self) -> float:
        return 2 * np.pi / self.n

    @property
    def covering_radius(self) -> float:
        return np.pi / self.n

    def nearest(self, angle) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest grid angle and the absolute angular distance (radians)."""
        a = np.mod(_as_float(angle), 2 * np.pi)
        idx = np.rint(a / self.spacing).astype(np.int64) % self.n
        diff = np.abs(np.mod(a - idx * self.spacing + np.pi, 2 * np.pi) - np.pi)
        return idx, diff
