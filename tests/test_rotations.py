"""Property tests of the rotation conversions, sampling and distances."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eqrobot import geometry as g
from eqrobot.geometry.rotations import is_rotation, project_to_so3, rot_x, rot_y, rot_z

finite = st.floats(-1.0, 1.0, allow_nan=False)
quats = st.tuples(finite, finite, finite, finite).filter(lambda q: np.linalg.norm(q) > 0.1).map(np.array)
angles = st.floats(-np.pi, np.pi, allow_nan=False)
rotvecs = st.tuples(finite, finite, finite).map(lambda v: np.array(v) * np.pi / np.sqrt(3) * 0.999)


def rot(q):
    return g.quat_to_matrix(q)


@given(quats)
def test_quaternion_gives_a_proper_rotation(q):
    assert is_rotation(rot(q), atol=1e-9)


@given(quats)
def test_quaternion_matrix_round_trip_up_to_sign(q):
    q = q / np.linalg.norm(q)
    back = g.matrix_to_quat(rot(q))
    assert back[3] >= 0
    assert min(np.abs(back - q).max(), np.abs(back + q).max()) < 1e-9


@given(rotvecs)
def test_axis_angle_round_trip(v):
    R = g.axis_angle_to_matrix(v)
    assert is_rotation(R, atol=1e-9)
    np.testing.assert_allclose(g.axis_angle_to_matrix(g.matrix_to_axis_angle(R)), R, atol=1e-9)
    np.testing.assert_allclose(g.quat_to_matrix(g.axis_angle_to_quat(v)), R, atol=1e-9)


def test_axis_angle_near_half_turn_keeps_the_axis():
    axis = np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5])
    for angle in (np.pi, np.pi - 1e-7):
        v = g.matrix_to_axis_angle(g.axis_angle_to_matrix(axis * angle))
        assert np.linalg.norm(v) == pytest.approx(angle, abs=1e-6)
        assert abs(abs(v @ axis) / np.linalg.norm(v) - 1) < 1e-6


@given(angles, st.floats(-np.pi / 2 + 1e-3, np.pi / 2 - 1e-3), angles)
def test_rpy_round_trip(roll, pitch, yaw):
    rpy = np.array([roll, pitch, yaw])
    back = g.matrix_to_rpy(g.rpy_to_matrix(rpy))
    np.testing.assert_allclose(g.rpy_to_matrix(back), g.rpy_to_matrix(rpy), atol=1e-9)
    assert abs(back[1] - pitch) < 1e-6


@given(angles, angles)
def test_rpy_at_gimbal_lock_reproduces_the_rotation(roll, yaw):
    for pitch in (np.pi / 2, -np.pi / 2):
        R = g.rpy_to_matrix([roll, pitch, yaw])
        np.testing.assert_allclose(g.rpy_to_matrix(g.matrix_to_rpy(R)), R, atol=1e-9)


def test_rpy_convention_is_ros_fixed_axes():
    # yaw 90 deg turns x into y; roll 90 deg turns y into z.
    np.testing.assert_allclose(g.rpy_to_matrix([0, 0, np.pi / 2]) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(g.rpy_to_matrix([np.pi / 2, 0, 0]) @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    r, p, y = 0.1, 0.2, 0.3
    np.testing.assert_allclose(g.rpy_to_matrix([r, p, y]), rot_z(y) @ rot_y(p) @ rot_x(r), atol=1e-12)
    # Quaternion (x, y, z, w) order: a 90 deg turn about z.
    np.testing.assert_allclose(g.quat_to_matrix([0, 0, np.sin(np.pi / 4), np.cos(np.pi / 4)]), rot_z(np.pi / 2),
                               atol=1e-12)


@given(quats, quats, quats)
def test_group_axioms(q1, q2, q3):
    A, B, C = rot(q1), rot(q2), rot(q3)
    np.testing.assert_allclose((A @ B) @ C, A @ (B @ C), atol=1e-9)
    np.testing.assert_allclose(A @ A.T, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(rot(g.quat_multiply(q1, q2)), A @ B, atol=1e-9)
    assert is_rotation(A @ B, atol=1e-9)


@given(quats, quats, quats)
def test_geodesic_distance_is_a_metric(q1, q2, q3):
    A, B, C = rot(q1), rot(q2), rot(q3)
    d_ab, d_ba = g.geodesic_distance(A, B), g.geodesic_distance(B, A)
    assert d_ab == pytest.approx(d_ba, abs=1e-9)
    assert 0 <= d_ab <= np.pi + 1e-9
    assert g.geodesic_distance(A, A) < 1e-7
    assert g.geodesic_distance(A, C) <= d_ab + g.geodesic_distance(B, C) + 1e-7
    # Left and right invariance.
    assert g.geodesic_distance(C @ A, C @ B) == pytest.approx(d_ab, abs=1e-7)
    assert g.geodesic_distance(A @ C, B @ C) == pytest.approx(d_ab, abs=1e-7)
    assert g.quat_distance(q1, q2) == pytest.approx(d_ab, abs=1e-6)


@given(rotvecs)
def test_geodesic_distance_is_the_rotation_angle(v):
    R = g.axis_angle_to_matrix(v)
    assert g.geodesic_distance(np.eye(3), R) == pytest.approx(np.linalg.norm(v), abs=1e-7)


def test_geodesic_distance_is_accurate_for_tiny_angles():
    assert g.geodesic_distance(np.eye(3), g.axis_angle_to_matrix([1e-9, 0, 0])) == pytest.approx(1e-9, rel=1e-3)


def test_random_rotations_are_seeded_and_uniform():
    a, b = g.random_rotations(2000, seed=3), g.random_rotations(2000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert is_rotation(a, atol=1e-9)
    # Haar measure: the angle has density (1 - cos t) / pi, mean pi/2 + 2/pi.
    t = g.geodesic_distance(np.eye(3), g.random_rotations(100_000, seed=1))
    assert t.mean() == pytest.approx(np.pi / 2 + 2 / np.pi, abs=0.01)
    # Rotated axes are uniform on the sphere: mean direction ~ 0.
    assert np.abs(a[:, :, 2].mean(axis=0)).max() < 0.06


@given(quats, quats, st.floats(0, 1))
def test_slerp_ends_and_constant_speed(q0, q1, alpha):
    np.testing.assert_allclose(rot(g.slerp(q0, q1, 0.0)), rot(q0), atol=1e-9)
    np.testing.assert_allclose(rot(g.slerp(q0, q1, 1.0)), rot(q1), atol=1e-7)
    total = g.quat_distance(q0, q1)
    assert g.quat_distance(q0, g.slerp(q0, q1, alpha)) == pytest.approx(alpha * total, abs=1e-6)


def test_project_to_so3_fixes_a_noisy_matrix():
    R = g.random_rotations(1, seed=0)[0]
    noisy = R + 1e-3 * np.random.default_rng(0).standard_normal((3, 3))
    P = project_to_so3(noisy)
    assert is_rotation(P, atol=1e-9)
    assert g.geodesic_distance(P, R) < 5e-3


def test_zero_quaternion_is_rejected():
    with pytest.raises(ValueError, match="zero norm"):
        g.quat_to_matrix([0, 0, 0, 0])


def test_batched_shapes():
    q = g.random_quats(12, seed=0).reshape(3, 4, 4)
    assert g.quat_to_matrix(q).shape == (3, 4, 3, 3)
    assert g.matrix_to_quat(g.quat_to_matrix(q)).shape == (3, 4, 4)
    assert g.matrix_to_rpy(g.quat_to_matrix(q)).shape == (3, 4, 3)


@settings(max_examples=50)
@given(quats)
def test_float32_input_stays_accurate(q):
    R32 = rot(q).astype(np.float32)
    back = g.quat_to_matrix(g.matrix_to_quat(R32))
    assert np.abs(back - R32).max() < 1e-5
