"""Launch pick_place_node with config/pick_place.yaml.

    ros2 launch eqrobot pick_place.launch.py ckpt:=/path/to/transporter.safetensors
    ros2 launch eqrobot pick_place.launch.py color:=/camera/color/image_raw \
        depth:=/camera/aligned_depth_to_color/image_raw camera_info:=/camera/color/camera_info
    ros2 launch eqrobot pick_place.launch.py input:=heightmap heightmap_color:=/fused/color \
        heightmap_height:=/fused/height

A parameter argument left empty takes the params file's value.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from eqrobot.ros.launch_overrides import given_parameters

PARAMETER_ARGUMENTS = ("device", "ckpt", "workspace_frame", "predict_on_every_frame", "input")


def generate_launch_description():
    params = os.path.join(get_package_share_directory("eqrobot"), "config", "pick_place.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=params, description="node parameters (YAML)"),
        DeclareLaunchArgument("device", default_value="", description="auto | cpu | cuda (empty: the params file's)"),
        DeclareLaunchArgument("ckpt", default_value="",
                              description="transporter checkpoint (empty: the params file's)"),
        DeclareLaunchArgument("workspace_frame", default_value="",
                              description="frame of the output poses (empty: the params file's)"),
        DeclareLaunchArgument("predict_on_every_frame", default_value="",
                              description="true: also predict on every colour + depth pair (empty: the params file's)"),
        DeclareLaunchArgument("color", default_value="color/image_raw", description="colour Image topic"),
        DeclareLaunchArgument("depth", default_value="depth/image_raw",
                              description="depth Image topic, registered to the colour camera"),
        DeclareLaunchArgument("camera_info", default_value="color/camera_info", description="colour CameraInfo topic"),
        DeclareLaunchArgument("input", default_value="", description="camera | heightmap (empty: the params file's)"),
        DeclareLaunchArgument("heightmap_color", default_value="heightmap/color",
                              description="top-down colour Image topic (input heightmap)"),
        DeclareLaunchArgument("heightmap_height", default_value="heightmap/height",
                              description="top-down height Image topic, 32FC1 metres (input heightmap)"),
        OpaqueFunction(function=launch_node),
    ])


def launch_node(context):
    arguments = context.launch_configurations
    return [Node(
        package="eqrobot",
        executable="pick_place_node",
        name="pick_place_node",
        output="screen",
        parameters=[arguments["params_file"], given_parameters(arguments, PARAMETER_ARGUMENTS)],
        remappings=[
            ("color/image_raw", LaunchConfiguration("color")),
            ("depth/image_raw", LaunchConfiguration("depth")),
            ("color/camera_info", LaunchConfiguration("camera_info")),
            ("heightmap/color", LaunchConfiguration("heightmap_color")),
            ("heightmap/height", LaunchConfiguration("heightmap_height")),
        ],
    )]
