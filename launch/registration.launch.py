"""Launch registration_node with config/registration.yaml.

    ros2 launch eqrobot registration.launch.py input:=/lidar/points
    ros2 launch eqrobot registration.launch.py mode:=model reference_file:=/path/to/part.ply
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    params = os.path.join(get_package_share_directory("eqrobot"), "config", "registration.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=params, description="node parameters (YAML)"),
        DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda"),
        DeclareLaunchArgument("mode", default_value="odometry", description="model | odometry"),
        DeclareLaunchArgument("reference_file", default_value="", description="reference cloud (mode model)"),
        DeclareLaunchArgument("input", default_value="points", description="PointCloud2 topic to register"),
        Node(
            package="eqrobot",
            executable="registration_node",
            name="registration_node",
            output="screen",
            parameters=[
                LaunchConfiguration("params_file"),
                {
                    "device": LaunchConfiguration("device"),
                    "mode": LaunchConfiguration("mode"),
                    "reference_file": LaunchConfiguration("reference_file"),
                },
            ],
            remappings=[("points", LaunchConfiguration("input"))],
        ),
    ])
