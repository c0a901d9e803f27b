"""geometry_msgs poses/transforms, nav_msgs Path and OccupancyGrid <-> numpy."""

import numpy as np
import pytest
from geometry_msgs.msg import Pose, PoseArray, TransformStamped
from nav_msgs.msg import OccupancyGrid, Path
from rclpy.serialization import deserialize_message, serialize_message

from eqrobot import geometry as g
from eqrobot.geometry.types import OccupancyMap
from eqrobot.ros.convert import (
    MessageError,
    array_to_path,
    map_to_occupancy_grid,
    matrices_to_pose_array,
    matrix_to_pose,
    matrix_to_pose_stamped,
    matrix_to_transform_stamped,
    occupancy_grid_to_map,
    path_to_array,
    pose_array_to_matrices,
    pose_stamped_to_matrix,
    pose_to_matrix,
    transform_stamped_to_matrix,
)


def wire(msg):
    return deserialize_message(serialize_message(msg), type(msg))


def test_pose_and_transform_round_trips():
    for T in g.random_transforms(20, seed=4):
        np.testing.assert_allclose(pose_to_matrix(wire(matrix_to_pose(T))), T, atol=1e-12)
        ps = wire(matrix_to_pose_stamped(T, "map"))
        np.testing.assert_allclose(pose_stamped_to_matrix(ps), T, atol=1e-12)
        ts = wire(matrix_to_transform_stamped(T, "map", "base_link"))
        assert ts.header.frame_id == "map" and ts.child_frame_id == "base_link"
        np.testing.assert_allclose(transform_stamped_to_matrix(ts), T, atol=1e-12)


def test_pose_array():
    Ts = g.random_transforms(5, seed=1)
    msg = wire(matrices_to_pose_array(Ts, "odom"))
    assert isinstance(msg, PoseArray) and msg.header.frame_id == "odom"
    np.testing.assert_allclose(pose_array_to_matrices(msg), Ts, atol=1e-12)
    assert pose_array_to_matrices(PoseArray()).shape == (0, 4, 4)


def test_non_unit_quaternion_is_normalised_and_zero_is_rejected():
    p = Pose()
    p.orientation.z, p.orientation.w = 2.0, 2.0
    np.testing.assert_allclose(pose_to_matrix(p)[:3, :3], g.rpy_to_matrix([0, 0, np.pi / 2]), atol=1e-12)
    p.orientation.z, p.orientation.w = 0.0, 0.0
    with pytest.raises(MessageError, match="Pose.orientation"):
        pose_to_matrix(p)
    p.orientation.w, p.position.x = 1.0, float("nan")
    with pytest.raises(MessageError, match="Pose.position"):
        pose_to_matrix(p)


def test_transform_with_nan_is_rejected():
    ts = TransformStamped()
    ts.transform.rotation.w = 1.0
    ts.transform.translation.y = float("inf")
    with pytest.raises(MessageError, match="Transform.translation"):
        transform_stamped_to_matrix(ts)


def test_path_round_trips():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    msg = wire(array_to_path(xy, "map"))
    assert isinstance(msg, Path) and len(msg.poses) == 3
    np.testing.assert_allclose(path_to_array(msg)[:, :2], xy)
    full = path_to_array(msg, with_orientation=True)
    assert full.shape == (3, 7)
    # Poses face along the path: the second leg heads +y.
    np.testing.assert_allclose(g.quat_to_rpy(full[1, 3:])[2], np.pi / 2, atol=1e-12)
    np.testing.assert_allclose(path_to_array(array_to_path(full)), full[:, :3])
    np.testing.assert_allclose(path_to_array(array_to_path(full), with_orientation=True), full, atol=1e-12)
    with pytest.raises(ValueError, match="array_to_path"):
        array_to_path(np.zeros((3, 5)))


def test_occupancy_grid_round_trip_and_cells():
    data = np.random.default_rng(0).choice([-1, 0, 100], size=(20, 30)).astype(np.int8)
    origin = g.make_transform(g.rpy_to_matrix([0, 0, 0.3]), [-1.0, 2.0, 0.0])
    m = OccupancyMap(data, resolution=0.05, origin=origin, frame_id="map")
    msg = wire(map_to_occupancy_grid(m))
    assert (msg.info.width, msg.info.height) == (30, 20)
    back = occupancy_grid_to_map(msg)
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_allclose(back.origin, origin, atol=1e-12)
    assert back.resolution == pytest.approx(0.05) and back.frame_id == "map"
    rows, cols = np.array([0, 7, 19]), np.array([0, 12, 29])
    xy = back.cell_to_world(rows, cols)
    r2, c2 = back.world_to_cell(xy)
    np.testing.assert_array_equal(r2, rows)
    np.testing.assert_array_equal(c2, cols)
    assert not back.contains_cell(np.array([20]), np.array([0]))[0]


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda m: setattr(m.info, "width", 31), "OccupancyGrid.data"),
        (lambda m: setattr(m.info, "resolution", 0.0), "OccupancyGrid.info.resolution"),
        (lambda m: m.data.__setitem__(0, 101), "OccupancyGrid.data"),
    ],
)
def test_malformed_grids(change, field):
    msg = map_to_occupancy_grid(OccupancyMap(np.zeros((4, 5)), resolution=0.1))
    assert isinstance(msg, OccupancyGrid)
    change(msg)
    with pytest.raises(MessageError, match=field):
        occupancy_grid_to_map(msg)
