"""SE(3) / SE(2) homogeneous transforms."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eqrobot import geometry as g
from eqrobot.geometry.transforms import apply_rotation, wrap_angle

seeds = st.integers(0, 2**32 - 1)


def rand_T(seed, n=None):
    T = g.random_transforms(1 if n is None else n, max_translation=2.0, seed=seed)
    return T[0] if n is None else T


@given(seeds)
def test_group_axioms(seed):
    A, B, C = rand_T(seed, 3)
    np.testing.assert_allclose(g.compose(g.compose(A, B), C), g.compose(A, g.compose(B, C)), atol=1e-9)
    np.testing.assert_allclose(g.compose(A, g.invert(A)), np.eye(4), atol=1e-9)
    np.testing.assert_allclose(g.compose(g.invert(A), A), np.eye(4), atol=1e-9)
    np.testing.assert_allclose(g.invert(g.compose(A, B)), g.compose(g.invert(B), g.invert(A)), atol=1e-9)
    np.testing.assert_allclose(g.invert(A), np.linalg.inv(A), atol=1e-9)
    g.check_transform(g.compose(A, B))


@given(seeds)
def test_apply_matches_matrix_product_and_composition(seed):
    A, B = rand_T(seed, 2)
    p = np.random.default_rng(seed).normal(size=(50, 3))
    homog = np.c_[p, np.ones(50)] @ A.T
    np.testing.assert_allclose(g.apply(A, p), homog[:, :3], atol=1e-9)
    np.testing.assert_allclose(g.apply(A, g.apply(B, p)), g.apply(g.compose(A, B), p), atol=1e-9)
    # Rigid: distances are preserved.
    d0 = np.linalg.norm(p[1:] - p[:-1], axis=1)
    q = g.apply(A, p)
    np.testing.assert_allclose(np.linalg.norm(q[1:] - q[:-1], axis=1), d0, atol=1e-9)
    n = apply_rotation(A, np.eye(3))
    np.testing.assert_allclose(n, A[:3, :3].T, atol=1e-12)


def test_batched_apply():
    T = rand_T(0, 5)
    p = np.random.default_rng(0).normal(size=(5, 7, 3))
    out = g.apply(T, p)
    for i in range(5):
        np.testing.assert_allclose(out[i], g.apply(T[i], p[i]), atol=1e-12)


@given(seeds, st.floats(0, 1))
def test_interpolation(seed, alpha):
    A, B = rand_T(seed, 2)
    np.testing.assert_allclose(g.interpolate(A, B, 0.0), A, atol=1e-9)
    np.testing.assert_allclose(g.interpolate(A, B, 1.0), B, atol=1e-7)
    M = g.interpolate(A, B, alpha)
    g.check_transform(M)
    total = g.rotation_error(A, B)
    assert g.rotation_error(A, M) == pytest.approx(alpha * total, abs=1e-6)
    assert g.translation_error(A, M) == pytest.approx(alpha * g.translation_error(A, B), abs=1e-9)


@given(seeds)
def test_quaternion_form_round_trip(seed):
    T = rand_T(seed)
    t, q = g.transform_to_quat(T)
    np.testing.assert_allclose(g.transform_from_quat(q, t), T, atol=1e-9)


def test_errors():
    A = g.make_transform(g.rpy_to_matrix([0, 0, 0.5]), [1, 2, 3])
    B = g.make_transform(np.eye(3), [1, 2, 4])
    assert g.rotation_error(A, B) == pytest.approx(0.5)
    assert g.translation_error(A, B) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "T, message",
    [
        (np.eye(3), "shape"),
        (np.diag([1.0, 1.0, -1.0, 1.0]), "proper rotation"),
        (np.diag([2.0, 1.0, 1.0, 1.0]), "proper rotation"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1.0]]), "last row"),
    ],
)
def test_check_transform_says_what_is_wrong(T, message):
    with pytest.raises(ValueError, match=message):
        g.check_transform(T)


@given(st.floats(-10, 10), st.floats(-10, 10), st.floats(-np.pi, np.pi),
       st.floats(-10, 10), st.floats(-10, 10), st.floats(-np.pi, np.pi))
def test_se2(x1, y1, t1, x2, y2, t2):
    A, B = g.se2(x1, y1, t1), g.se2(x2, y2, t2)
    np.testing.assert_allclose(g.compose(A, g.invert(A)), np.eye(3), atol=1e-9)
    AB = g.compose(A, B)
    x, y, t = g.se2_params(AB)
    assert wrap_angle(t - (t1 + t2)) == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(g.se2_params(A)[:2], [x1, y1], atol=1e-12)
    # Lifting to SE(3) is a homomorphism and projects back.
    np.testing.assert_allclose(g.se2_to_se3(AB), g.compose(g.se2_to_se3(A), g.se2_to_se3(B)), atol=1e-9)
    np.testing.assert_allclose(g.se3_to_se2(g.se2_to_se3(A, z=0.3)), A, atol=1e-9)
    p = np.array([[0.5, -1.0]])
    np.testing.assert_allclose(g.apply(A, p)[0], A[:2, :2] @ p[0] + [x1, y1], atol=1e-9)


def test_wrap_angle():
    np.testing.assert_allclose(wrap_angle([np.pi, -np.pi, 3 * np.pi, 0.1 - 2 * np.pi]), [np.pi, np.pi, np.pi, 0.1])
