"""SO(3) HEALPix-Hopf grids and SO(2) grids: sizes, coverage, nearest-cell lookup."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eqrobot import geometry as g
from eqrobot.geometry.grids import SO3_COVERING_RADIUS_DEG, SO3Grid, healpix_pix2ang

finite = st.floats(-1.0, 1.0, allow_nan=False)
quats = st.tuples(finite, finite, finite, finite).filter(lambda q: np.linalg.norm(q) > 0.1).map(np.array)


@pytest.mark.parametrize("nside", [1, 2, 4, 8])
def test_healpix_pixels_are_equal_area_rings(nside):
    theta, phi = healpix_pix2ang(nside)
    assert theta.size == 12 * nside**2
    z = np.cos(theta)
    # Equal area: the pixel z values are an equal-area sample of [-1, 1].
    assert abs(z.mean()) < 1e-12
    assert np.allclose(np.sort(z), -np.sort(z)[::-1])
    # Area above each pixel centre ~ share of pixels above it (within one ring).
    above = (z[None, :] > z[:, None]).mean(axis=1)
    assert np.abs(above - (1 - z) / 2).max() <= 4 * nside / z.size + 1e-12
    # Rings: 4 nside - 1 distinct latitudes, symmetric about the equator.
    assert np.unique(np.round(z, 12)).size == 4 * nside - 1
    dirs = np.c_[np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), z]
    assert len(np.unique(np.round(dirs, 9), axis=0)) == theta.size


@pytest.mark.parametrize("level, size", [(0, 72), (1, 576), (2, 4608), (3, 36864)])
def test_so3_grid_size_and_distinct_rotations(level, size):
    grid = SO3Grid(level)
    assert grid.size == len(grid.rotations) == size
    R = grid.rotations.astype(np.float64)
    assert np.abs(np.einsum("nji,njk->nik", R, R) - np.eye(3)).max() < 1e-5
    q = np.round(grid.quaternions, 6)
    assert len(np.unique(q, axis=0)) == size


def test_large_grid_sizes_are_documented():
    assert [SO3Grid(level).size for level in (4, 5)] == [294_912, 2_359_296]
    assert SO3Grid(5).mean_spacing_deg == pytest.approx(1.85, abs=0.01)


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_every_rotation_is_within_the_covering_radius(level):
    grid = SO3Grid(level)
    R = g.random_rotations(20_000, seed=100 + level)
    _, dist = grid.nearest(R)
    assert np.degrees(dist).max() <= SO3_COVERING_RADIUS_DEG[level]
    # ... and the radius is not a loose bound: some rotation comes close to it.
    assert np.degrees(dist).max() > 0.8 * SO3_COVERING_RADIUS_DEG[level]


@settings(max_examples=200)
@given(quats)
def test_coverage_property_level3(q):
    grid = SO3Grid(3)
    _, dist = grid.nearest(g.quat_to_matrix(q))
    assert np.degrees(dist) <= grid.covering_radius_deg


def test_nearest_matches_brute_force():
    grid = SO3Grid(2)
    R = g.random_rotations(200, seed=5)
    idx, dist = grid.nearest(R)
    all_d = g.geodesic_distance(R[:, None], grid.rotations[None].astype(np.float64))
    np.testing.assert_array_equal(idx, all_d.argmin(axis=1))
    np.testing.assert_allclose(dist, all_d.min(axis=1), atol=1e-6)


def test_cell_centres_are_their_own_nearest():
    grid = SO3Grid(1)
    idx, dist = grid.nearest(grid.rotations.astype(np.float64))
    np.testing.assert_array_equal(idx, np.arange(grid.size))
    assert dist.max() < 1e-3


def test_invalid_level():
    with pytest.raises(ValueError, match="level"):
        SO3Grid(6)


@given(st.integers(1, 360), st.floats(-20, 20))
def test_so2_grid(n, angle):
    grid = g.SO2Grid(n)
    idx, diff = grid.nearest(angle)
    assert 0 <= idx < n
    assert diff <= grid.covering_radius + 1e-9
    brute = np.abs(np.angle(np.exp(1j * (angle - grid.angles))))
    assert diff == pytest.approx(brute.min(), abs=1e-9)
