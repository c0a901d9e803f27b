"""eqrobot: an ament_python package that also installs with plain pip.

Python dependencies are ranges that work together; ``constraints.txt`` pins the
exact set that ``make setup`` installs and CI tests. The ROS 2 wheels are the
``ros`` extra: on a robot with ROS 2 from apt, rclpy and the messages come from the distro.
"""

import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "eqrobot"

# Nodes get their own executables (lib/eqrobot/<node>), as launch files expect.
NODES = ["cloud_filter_node", "pick_place_node", "planner_node", "pose_node", "registration_node"]


def share_tree(folder):
    """(destination, files) pairs that install a folder under share/eqrobot/, keeping its layout."""
    entries = []
    for root, _, files in os.walk(folder):
        kept = [os.path.join(root, f) for f in files if not f.startswith(".")]
        if kept:
            entries.append((os.path.join("share", PACKAGE, root), kept))
    return entries


setup(
    name=PACKAGE,
    version="0.1.0",
    description="Symmetry-aware perception and policy models for robots (ROS 2, PyTorch, PyBullet)",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ]
    + share_tree("models")
    + share_tree("sim"),
    install_requires=[
        "numpy>=1.24,<2",  # escnn's lie_learn wheel is built against numpy 1.x
        "scipy>=1.10",
        "torch>=2.1",
        "pyyaml>=6",
        "tqdm>=4.60",
        "safetensors>=0.4",
        "pybullet>=3.2.5",
        "open3d>=0.18",  # needs the system library libusb-1.0-0 (make setup installs it)
        "matplotlib>=3.7",
        "rosbags>=0.10",  # reads and writes ROS 2 bags (sqlite3, MCAP) without ROS
        "pymeshfix>=0.16",  # ships a real scan (StanfordBunny.ply) used by the demo and benchmark
        "trimesh>=4",  # generated training and benchmark shapes
        "gymnasium>=1.0",  # the pick-and-place environments' API
        # escnn (steerable CNNs) itself is installed by `make setup` with --no-deps: it requires
        # py3nj, which only builds with a Fortran compiler and is optional at run time. These are
        # the rest of its dependencies.
        "lie-learn>=0.0.2",
        "joblib>=1.2",
        "pymanopt>=2",
        "autograd>=1.5",
    ],
    extras_require={
        "ros": [
            "ros-kilted-rclpy",
            "ros-rmw-fastrtps-cpp",
            "ros-std-msgs",
            "ros-std-srvs",
            "ros-sensor-msgs",
            "ros-geometry-msgs",
            "ros-nav-msgs",
            "ros-visualization-msgs",
            "ros-diagnostic-msgs",
            "ros-lifecycle-msgs",
        ],
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.2",
            "hypothesis>=6.90",
            "ruff>=0.5",
            "colcon-common-extensions>=0.3",
        ],
    },
    zip_safe=True,
    entry_points={
        "console_scripts": [f"{PACKAGE} = {PACKAGE}.cli.main:main"]
        + [f"{node} = {PACKAGE}.ros.{node}:main" for node in NODES],
    },
)
