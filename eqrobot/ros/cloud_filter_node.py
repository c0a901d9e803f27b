"""cloud_filter_node: cleans a point-cloud stream (invalid points, range, crop box,
voxel averaging) before registration or any other model.

Subscribes ``points`` (sensor_msgs/PointCloud2), publishes ``points_filtered``.
Run: ``python -m eqrobot.ros.cloud_filter_node --ros-args --params-file config/cloud_filter.yaml``
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointCloud2

from eqrobot.geometry.cloud_filter import CloudFilterConfig, filter_cloud
from eqrobot.geometry.types import PointCloud
from eqrobot.ros.convert import cloud_to_pointcloud2, pointcloud2_to_cloud
from eqrobot.ros.node_base import InferenceNode, Param, run_node


class CloudFilterNode(InferenceNode):
    NAME = "cloud_filter_node"
    PARAMS = (
        Param("voxel_size", 0.0, "voxel edge in metres; 0 keeps every point", min=0.0, max=100.0),
        Param("min_range", 0.0, "drop points closer than this to the sensor (m)", min=0.0, max=1e4),
        Param("max_range", 0.0, "drop points farther than this (m); 0 = no limit", min=0.0, max=1e4),
        Param("crop_enabled", False, "keep only points inside [crop_min, crop_max]"),
        Param("crop_min", [-1.0, -1.0, -1.0], "crop box lower corner x, y, z (m)"),
        Param("crop_max", [1.0, 1.0, 1.0], "crop box upper corner x, y, z (m)"),
        Param("min_points", 10, "reject clouds with fewer points left", min=1, max=1_000_000_000),
    )

    def setup(self) -> None:
        self.config = CloudFilterConfig(
            voxel_size=self.param("voxel_size"), min_range=self.param("min_range"),
            max_range=self.param("max_range"), crop_enabled=self.param("crop_enabled"),
            crop_min=tuple(self.param("crop_min")), crop_max=tuple(self.param("crop_max")),
            min_points=self.param("min_points"),
        )

    def warm_up(self) -> None:
        dummy = PointCloud(np.random.default_rng(0).uniform(-0.5, 0.5, (256, 3)))
        filter_cloud(dummy, CloudFilterConfig(voxel_size=0.1, min_points=1), self.device)

    def create_interfaces(self) -> None:
        self.out = self.publisher(PointCloud2, "points_filtered")
        self.subscribe(PointCloud2, "points", self.on_points)

    def on_points(self, msg: PointCloud2) -> None:
        cloud = filter_cloud(pointcloud2_to_cloud(msg), self.config, self.device)
        out = cloud_to_pointcloud2(cloud)
        out.header = self.output_header(msg.header)
        self.out.publish(out)


def main(args=None) -> int:
    return run_node(CloudFilterNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
