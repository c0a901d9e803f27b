"""Message <-> numpy bridge (numpy only; the message classes come from the ROS wheels
or the distro). Every function raises :class:`MessageError` naming the bad field."""

from eqrobot.ros.convert.errors import MessageError
from eqrobot.ros.convert.header import copy_header, make_header, ns_to_stamp, stamp_to_ns
from eqrobot.ros.convert.image import (
    ENCODINGS,
    array_to_image,
    camera_info_to_intrinsics,
    image_to_array,
    intrinsics_to_camera_info,
    to_rgb,
)
from eqrobot.ros.convert.maps import map_to_occupancy_grid, occupancy_grid_to_map
from eqrobot.ros.convert.paths import delete_marker, graph_markers, path_marker
from eqrobot.ros.convert.pointcloud import (
    cloud_to_pointcloud2,
    pack_rgb,
    pointcloud2_to_array,
    pointcloud2_to_cloud,
    pointcloud2_to_xyz,
    unpack_rgb,
)
from eqrobot.ros.convert.poses import (
    array_to_path,
    matrices_to_pose_array,
    matrix_to_pose,
    matrix_to_pose_stamped,
    matrix_to_transform,
    matrix_to_transform_stamped,
    path_to_array,
    pose_array_to_matrices,
    pose_stamped_to_matrix,
    pose_to_matrix,
    transform_stamped_to_matrix,
    transform_to_matrix,
)

__all__ = [
    "ENCODINGS", "MessageError", "array_to_image", "array_to_path", "camera_info_to_intrinsics",
    "cloud_to_pointcloud2", "copy_header", "delete_marker", "graph_markers", "image_to_array",
    "intrinsics_to_camera_info", "make_header", "map_to_occupancy_grid", "matrices_to_pose_array",
    "matrix_to_pose", "matrix_to_pose_stamped", "matrix_to_transform", "matrix_to_transform_stamped",
    "ns_to_stamp", "occupancy_grid_to_map", "pack_rgb", "path_marker", "path_to_array",
    "pointcloud2_to_array", "pointcloud2_to_cloud", "pointcloud2_to_xyz", "pose_array_to_matrices",
    "pose_stamped_to_matrix", "pose_to_matrix", "stamp_to_ns", "to_rgb", "transform_stamped_to_matrix",
    "transform_to_matrix", "unpack_rgb",
]
