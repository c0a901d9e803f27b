"""Launch planner_node with config/planner.yaml.

    ros2 launch eqrobot planner.launch.py
    ros2 launch eqrobot planner.launch.py planner:=dijkstra map:=/slam/map
    ros2 launch eqrobot planner.launch.py weights:=/path/to/mpvin-eq.safetensors plan:=/planner/plan

A parameter argument left empty takes the params file's value.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from eqrobot.ros.launch_overrides import given_parameters

PARAMETER_ARGUMENTS = ("device", "planner", "weights", "clearance")


def generate_launch_description():
    params = os.path.join(get_package_share_directory("eqrobot"), "config", "planner.yaml")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=params, description="node parameters (YAML)"),
        DeclareLaunchArgument("device", default_value="", description="auto | cpu | cuda (empty: the params file's)"),
        DeclareLaunchArgument("planner", default_value="",
                              description="eq | gnn | dijkstra | astar (empty: the params file's)"),
        DeclareLaunchArgument("weights", default_value="", description="planner weights (empty: the params file's)"),
        DeclareLaunchArgument("clearance", default_value="",
                              description="robot radius in metres (empty: the params file's)"),
        DeclareLaunchArgument("map", default_value="map", description="OccupancyGrid topic (transient local)"),
        DeclareLaunchArgument("goal_pose", default_value="goal_pose", description="PoseStamped goal topic"),
        DeclareLaunchArgument("initialpose", default_value="initialpose",
                              description="PoseWithCovarianceStamped start topic"),
        DeclareLaunchArgument("plan", default_value="plan", description="Path output topic"),
        OpaqueFunction(function=launch_node),
    ])


def launch_node(context):
    arguments = context.launch_configurations
    return [Node(
        package="eqrobot",
        executable="planner_node",
        name="planner_node",
        output="screen",
        parameters=[arguments["params_file"], given_parameters(arguments, PARAMETER_ARGUMENTS)],
        remappings=[
            ("map", LaunchConfiguration("map")),
            ("goal_pose", LaunchConfiguration("goal_pose")),
            ("initialpose", LaunchConfiguration("initialpose")),
            ("plan", LaunchConfiguration("plan")),
        ],
    )]
