"""Launch pose_node with config/pose.yaml.

    ros2 launch eqrobot pose.launch.py image:=/camera/color/image_raw camera_info:=/camera/color/camera_info
    ros2 launch eqrobot pose.launch.py image:=/camera/color/image_raw camera_info:=/camera/color/camera_info \
        depth:=/camera/aligned_depth_to_color/image_raw
    ros2 launch eqrobot pose.launch.py weights:=/path/to/pose-eq.safetensors modes:=3

A parameter argument left empty takes the params file's value.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from eqrobot.ros.launch_overrides import given_parameters

PARAMETER_ARGUMENTS = ("device", "weights", "modes", "depth_tolerance_s")


def generate_launch_description():
    params = os.path.join(get_package_share_directory("eqrobot"), "config", "pose.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=params, description="node parameters (YAML)"),
        DeclareLaunchArgument("device", default_value="", description="auto | cpu | cuda (empty: the params file's)"),
        DeclareLaunchArgument("weights", default_value="", description="pose weights (empty: the params file's)"),
        DeclareLaunchArgument("modes", default_value="",
                              description="orientations on pose/modes (empty: the params file's)"),
        DeclareLaunchArgument("depth_tolerance_s", default_value="",
                              description="largest image-depth stamp difference in seconds (empty: the params file's)"),
        DeclareLaunchArgument("image", default_value="image", description="colour Image topic"),
        DeclareLaunchArgument("camera_info", default_value="camera_info", description="CameraInfo topic of the image"),
        DeclareLaunchArgument("depth", default_value="depth",
                              description="depth Image topic, registered to the colour camera (optional)"),
        OpaqueFunction(function=launch_node),
    ])


def launch_node(context):
    arguments = context.launch_configurations
    return [Node(
        package="eqrobot",
        executable="pose_node",
        name="pose_node",
        output="screen",
        parameters=[arguments["params_file"], given_parameters(arguments, PARAMETER_ARGUMENTS)],
        remappings=[
            ("image", LaunchConfiguration("image")),
            ("camera_info", LaunchConfiguration("camera_info")),
            ("depth", LaunchConfiguration("depth")),
        ],
    )]
