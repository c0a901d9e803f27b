"""SE(2)/SE(3)/SO(3) math, grids on SO(3)/SO(2), and frame-carrying sensor data types.

numpy (and torch where noted) only; nothing here imports ROS or the simulator.
"""

from eqrobot.geometry.grids import SO2Grid, SO3Grid, healpix_pix2ang
from eqrobot.geometry.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quat,
    geodesic_distance,
    matrix_to_axis_angle,
    matrix_to_quat,
    matrix_to_rpy,
    quat_distance,
    quat_multiply,
    quat_to_axis_angle,
    quat_to_matrix,
    quat_to_rpy,
    random_quats,
    random_rotations,
    rpy_to_matrix,
    rpy_to_quat,
    slerp,
)
from eqrobot.geometry.transforms import (
    apply,
    apply_rotation,
    check_transform,
    compose,
    interpolate,
    invert,
    make_transform,
    random_transforms,
    rotation_error,
    se2,
    se2_params,
    se2_to_se3,
    se3_to_se2,
    transform_from_quat,
    transform_to_quat,
    translation_error,
)
from eqrobot.geometry.types import CameraIntrinsics, OccupancyMap, PointCloud

__all__ = [
    "CameraIntrinsics", "OccupancyMap", "PointCloud", "SO2Grid", "SO3Grid",
    "apply", "apply_rotation", "axis_angle_to_matrix", "axis_angle_to_quat", "check_transform", "compose",
    "geodesic_distance", "healpix_pix2ang", "interpolate", "invert", "make_transform",
    "matrix_to_axis_angle", "matrix_to_quat", "matrix_to_rpy", "quat_distance",
    "quat_multiply", "quat_to_axis_angle", "quat_to_matrix", "quat_to_rpy", "random_quats",
    "random_rotations", "random_transforms", "rotation_error", "rpy_to_matrix", "rpy_to_quat",
    "se2", "se2_params", "se2_to_se3", "se3_to_se2", "slerp", "transform_from_quat",
    "transform_to_quat", "translation_error",
]
