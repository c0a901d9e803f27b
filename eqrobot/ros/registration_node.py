"""registration_node: registers incoming point clouds, against a reference model
(``mode: model``) or scan to previous scan (``mode: odometry``).

Subscribes ``points`` (PointCloud2). Publishes ``registration/pose`` (PoseStamped: the
transform of the incoming scan into the reference frame), ``registration/transform``
(TransformStamped, child frame = the scan's frame) and ``registration/aligned`` (the scan
in the reference frame). A registration without enough evidence (``converged`` false)
is not published: it is warned about and counted as rejected in /diagnostics.

Run: ``python -m eqrobot.ros.registration_node --ros-args --params-file config/registration.yaml``
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped, TransformStamped
from sensor_msgs.msg import PointCloud2

from eqrobot.geometry.transforms import apply, compose, random_transforms
from eqrobot.geometry.types import PointCloud
from eqrobot.io.cloud_files import read_cloud
from eqrobot.io.samples import sample_cloud
from eqrobot.perception.registration.registrar import DESCRIPTORS, METHODS, Registrar, RegistrarConfig
from eqrobot.ros.convert import (
    cloud_to_pointcloud2,
    matrix_to_pose,
    matrix_to_transform,
    pointcloud2_to_cloud,
)
from eqrobot.ros.node_base import InferenceNode, InputRejected, Param, run_node


class RegistrationNode(InferenceNode):
    NAME = "registration_node"
    PARAMS = (
        Param("mode", "odometry", "model: each scan against reference_file; odometry: each scan against the previous",
              choices=("model", "odometry"), read_only=True),
        Param("reference_file", "", "reference cloud for mode 'model' (.ply .pcd .xyz .xyzn .pts .npy .npz)",
              read_only=True),
        Param("reference_frame", "map", "frame of the reference cloud, or of the first scan in odometry"),
        Param("method", "eq", "registration method", choices=METHODS, read_only=True),
        Param("descriptor", "learned", "method eq: learned (fastest), fused (learned + FPFH) or fpfh",
              choices=DESCRIPTORS, read_only=True),
        Param("voxel_size", 0.0, "voxel size (m); 0 estimates it from the reference or the first scan",
              min=0.0, max=100.0, read_only=True),
        Param("weights", "", "descriptor weights file; empty uses the shipped weights", read_only=True),
        Param("min_points", 30, "reject scans with fewer valid points", min=3, max=1_000_000_000),
        Param("publish_aligned", True, "publish the scan moved into the reference frame"),
    )

    def setup(self) -> None:
        voxel = self.param("voxel_size") or None
        self.registrar = Registrar(RegistrarConfig(method=self.param("method"), voxel=voxel,
                                                   descriptor=self.param("descriptor"),
                                                   weights=self.param("weights") or None, device=self.device))
        self.reference = None
        self.previous = None
        self.pose = np.eye(4)
        self.step = np.eye(4)
        if self.param("mode") == "model":
            path = self.param("reference_file")
            if not path:
                raise ValueError("mode 'model' needs the parameter reference_file")
            cloud = read_cloud(path)
            self.voxel = voxel or self.registrar.voxel_for(cloud.points)
            self.reference = self.registrar.prepare(cloud, self.voxel)
            self.get_logger().info(f"reference {path}: {len(cloud)} points, voxel {self.voxel:.4g} m")
        else:
            self.voxel = voxel

    def warm_up(self) -> None:
        cloud = sample_cloud("bunny", 2000, seed=0)
        moved = apply(random_transforms(1, 0.1, seed=0)[0], cloud.points)
        self.registrar(moved, cloud.points)

    def create_interfaces(self) -> None:
        self.pose_pub = self.publisher(PoseStamped, "registration/pose")
        self.tf_pub = self.publisher(TransformStamped, "registration/transform")
        self.aligned_pub = self.publisher(PointCloud2, "registration/aligned")
        self.subscribe(PointCloud2, "points", self.on_points)

    def on_points(self, msg: PointCloud2) -> None:
        cloud = pointcloud2_to_cloud(msg)
        if len(cloud) < self.param("min_points"):
            raise InputRejected(f"{len(cloud)} valid points, need at least {self.param('min_points')}")
        T = self._register_model(cloud) if self.reference is not None else self._register_odometry(cloud)
        if T is not None:
            self._publish(msg, cloud, T)

    def _register_model(self, cloud: PointCloud) -> np.ndarray:
        result = self.registrar.register_prepared(self.registrar.prepare(cloud, self.voxel), self.reference)
        self._require(result)
        return result.transform

    def _register_odometry(self, cloud: PointCloud) -> np.ndarray | None:
        if self.previous is None:
            self.voxel = self.voxel or self.registrar.voxel_for(cloud.points)
            self.previous = self.registrar.prepare(cloud, self.voxel)
            return self.pose
        current = self.registrar.prepare(cloud, self.voxel)
        result = self.registrar.register_prepared(current, self.previous, init=self.step)
        self._require(result)
        self.step = result.transform
        self.pose = compose(self.pose, self.step)
        self.previous = current
        return self.pose

    @staticmethod
    def _require(result) -> None:
        if not result.converged:
            raise InputRejected(f"registration not trusted: fitness {result.fitness:.2f}, "
                                f"{result.num_inliers} inliers (converged = false)")

    def _publish(self, msg: PointCloud2, cloud: PointCloud, T: np.ndarray) -> None:
        frame = self.param("reference_frame")
        header = self.output_header(msg.header)
        header.frame_id = frame
        self.pose_pub.publish(PoseStamped(header=header, pose=matrix_to_pose(T)))
        self.tf_pub.publish(TransformStamped(header=header, child_frame_id=msg.header.frame_id,
                                             transform=matrix_to_transform(T)))
        if self.param("publish_aligned"):
            aligned = cloud_to_pointcloud2(apply(T, cloud.points))
            aligned.header = header
            self.aligned_pub.publish(aligned)


def main(args=None) -> int:
    return run_node(RegistrationNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
