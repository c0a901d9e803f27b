"""Launch cloud_filter_node with config/cloud_filter.yaml.

    ros2 launch eqrobot cloud_filter.launch.py input:=/camera/points device:=cuda

A parameter argument left empty takes the params file's value.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from eqrobot.ros.launch_overrides import given_parameters

PARAMETER_ARGUMENTS = ("device",)


def generate_launch_description():
    params = os.path.join(get_package_share_directory("eqrobot"), "config", "cloud_filter.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=params, description="node parameters (YAML)"),
        DeclareLaunchArgument("device", default_value="", description="auto | cpu | cuda (empty: the params file's)"),
        DeclareLaunchArgument("input", default_value="points", description="PointCloud2 topic to filter"),
        DeclareLaunchArgument("output", default_value="points_filtered", description="filtered PointCloud2 topic"),
        OpaqueFunction(function=launch_node),
    ])


def launch_node(context):
    arguments = context.launch_configurations
    return [Node(
        package="eqrobot",
        executable="cloud_filter_node",
        name="cloud_filter_node",
        output="screen",
        parameters=[arguments["params_file"], given_parameters(arguments, PARAMETER_ARGUMENTS)],
        remappings=[
            ("points", LaunchConfiguration("input")),
            ("points_filtered", LaunchConfiguration("output")),
        ],
    )]
