"""Launch registration_node with config/registration.yaml.

    ros2 launch eqrobot registration.launch.py input:=/lidar/points
    ros2 launch eqrobot registration.launch.py mode:=model reference_file:=/path/to/part.ply

A parameter argument left empty takes the params file's value.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from eqrobot.ros.launch_overrides import given_parameters

PARAMETER_ARGUMENTS = ("device", "mode", "reference_file")


def generate_launch_description():
    params = os.path.join(get_package_share_directory("eqrobot"), "config", "registration.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=params, description="node parameters (YAML)"),
        DeclareLaunchArgument("device", default_value="", description="auto | cpu | cuda (empty: the params file's)"),
        DeclareLaunchArgument("mode", default_value="", description="model | odometry (empty: the params file's)"),
        DeclareLaunchArgument("reference_file", default_value="", description="reference cloud (mode model)"),
        DeclareLaunchArgument("input", default_value="points", description="PointCloud2 topic to register"),
        OpaqueFunction(function=launch_node),
    ])


def launch_node(context):
    arguments = context.launch_configurations
    return [Node(
        package="eqrobot",
        executable="registration_node",
        name="registration_node",
        output="screen",
        parameters=[arguments["params_file"], given_parameters(arguments, PARAMETER_ARGUMENTS)],
        remappings=[("points", LaunchConfiguration("input"))],
    )]
