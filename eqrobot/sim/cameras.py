"""Simulated RGB-D cameras: where they are, what they see, rendered by PyBullet's CPU renderer
into the same ``RGBDView`` a real camera gives (``eqrobot.geometry.heightmap``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p

from eqrobot.geometry.heightmap import RGBDView
from eqrobot.geometry.rotations import rpy_to_matrix
from eqrobot.geometry.types import CameraIntrinsics


@dataclass(frozen=True)
class SimCamera:
    """A pinhole camera at ``position`` whose optical frame (x right, y down, z forward) has
    orientation ``rotation`` (3x3, in the world frame); ``z_range`` is the renderer's clip range."""

    name: str
    position: tuple
    rotation: np.ndarray
    intrinsics: CameraIntrinsics
    z_range: tuple = (0.01, 10.0)

    @property
    def pose(self) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = self.rotation
        T[:3, 3] = self.position
        return T


def ravens_intrinsics() -> CameraIntrinsics:
    """The RealSense-D415-like camera of the Ravens protocol: 640 x 480, f = 450 px."""
    return CameraIntrinsics(K=[[450.0, 0, 320.0], [0, 450.0, 240.0], [0, 0, 1]], width=640, height=480)


def ravens_cameras() -> list[SimCamera]:
    """Front, left and right cameras 0.75 m above the table, looking down at the workspace
    (positions and roll-pitch-yaw of the Ravens protocol, BENCHMARKS.md)."""
    K = ravens_intrinsics()
    setups = (("front", (1.0, 0.0, 0.75), (np.pi / 4, np.pi, -np.pi / 2)),
              ("left", (0.0, 0.5, 0.75), (np.pi / 4.5, np.pi, np.pi / 4)),
              ("right", (0.0, -0.5, 0.75), (np.pi / 4.5, np.pi, 3 * np.pi / 4)))
    # rpy_to_matrix is PyBullet's getQuaternionFromEuler convention, R = Rz(yaw) Ry(pitch) Rx(roll).
    return [SimCamera(name, position, rpy_to_matrix(rpy), K) for name, position, rpy in setups]


def render(camera: SimCamera, client: int) -> RGBDView:
    """Colour and metric depth of ``camera`` in the world of ``client`` (TinyRenderer: no GPU or display)."""
    K, (near, far) = camera.intrinsics, camera.z_range
    forward, down = camera.rotation[:, 2], camera.rotation[:, 1]
    eye = np.asarray(camera.position, dtype=np.float64)
    view = p.computeViewMatrix(eye.tolist(), (eye + forward).tolist(), (-down).tolist())
    fov_y = np.degrees(2 * np.arctan(K.height / 2 / K.fy))
    projection = p.computeProjectionMatrixFOV(fov_y, K.width / K.height, near, far)
    _, _, rgba, buffer, _ = p.getCameraImage(K.width, K.height, view, projection, shadow=0,
                                             renderer=p.ER_TINY_RENDERER, physicsClientId=client)
    rgba = np.asarray(rgba, dtype=np.uint8).reshape(K.height, K.width, 4)
    buffer = np.asarray(buffer, dtype=np.float64).reshape(K.height, K.width)
    depth = far * near / (far - (far - near) * buffer)  # OpenGL depth buffer -> metres along the axis
    depth[buffer >= 1.0] = 0.0  # nothing there: no reading, as a real sensor reports it
    return RGBDView(rgba[..., :3].copy(), depth, K, camera.pose)
