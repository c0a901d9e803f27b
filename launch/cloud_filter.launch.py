"""Launch cloud_filter_node with config/cloud_filter.yaml.

    ros2 launch eqrobot cloud_filter.launch.py input:=/camera/points device:=cuda
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    params = os.path.join(get_package_share_directory("eqrobot"), "config", "cloud_filter.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=params, description="node parameters (YAML)"),
        DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda"),
        DeclareLaunchArgument("input", default_value="points", description="PointCloud2 topic to filter"),
        DeclareLaunchArgument("output", default_value="points_filtered", description="filtered PointCloud2 topic"),
        Node(
            package="eqrobot",
            executable="cloud_filter_node",
            name="cloud_filter_node",
            output="screen",
            parameters=[LaunchConfiguration("params_file"), {"device": LaunchConfiguration("device")}],
            remappings=[
                ("points", LaunchConfiguration("input")),
                ("points_filtered", LaunchConfiguration("output")),
            ],
        ),
    ])
