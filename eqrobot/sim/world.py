"""A headless PyBullet world: a table plane, bodies added by code, cameras rendered on the CPU.

One ``World`` owns one physics client (DIRECT mode), so worlds in one process never see each
other; the same seed and the same calls give the same world.
"""

from __future__ import annotations

import numpy as np
import pybullet as p
import pybullet_data

from eqrobot.geometry.heightmap import RAVENS_WORKSPACE, Heightmap, Workspace, heightmap_from_rgbd
from eqrobot.geometry.rotations import matrix_to_quat, quat_to_matrix
from eqrobot.sim.cameras import SimCamera, ravens_cameras, render

TIME_STEP = 1.0 / 240.0
# One plain colour, like Ravens' workspace board: plane.urdf's checker texture puts a blue-white
# edge across the workspace that no real table has and that does not turn with the scene.
TABLE_RGBA = (0.5, 0.5, 0.5, 1.0)


class ClientOwner:
    """Owns ``self.client`` (a PyBullet physics client): a context manager that disconnects it."""

    client: int | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None and p.isConnected(self.client):
            p.disconnect(self.client)
        self.client = None


class World(ClientOwner):
    def __init__(self, seed: int = 0, cameras: list[SimCamera] | None = None) -> None:
        self.client = p.connect(p.DIRECT)
        self.rng = np.random.default_rng(seed)
        self.cameras = ravens_cameras() if cameras is None else cameras
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.client)
        p.setGravity(0, 0, -9.8, physicsClientId=self.client)
        p.setTimeStep(TIME_STEP, physicsClientId=self.client)
        self.table = p.loadURDF("plane.urdf", [0, 0, 0], physicsClientId=self.client)  # the table top: z = 0
        p.changeVisualShape(self.table, -1, rgbaColor=list(TABLE_RGBA), textureUniqueId=-1,  # -1: no texture
                            physicsClientId=self.client)

    def add_box(self, size, pose: np.ndarray, color=(0.8, 0.2, 0.2, 1.0), mass: float = 0.1) -> int:
        """A box of edge lengths ``size`` (metres) at ``pose`` (4x4, its centre); returns the body id."""
        half = (np.asarray(size, dtype=np.float64) / 2).tolist()
        shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=self.client)
        visual = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=list(color), physicsClientId=self.client)
        return p.createMultiBody(mass, shape, visual, basePosition=pose[:3, 3].tolist(),
                                 baseOrientation=matrix_to_quat(pose[:3, :3]).tolist(), physicsClientId=self.client)

    def pose_of(self, body: int) -> np.ndarray:
        position, quat = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        T = np.eye(4)
        T[:3, :3] = quat_to_matrix(quat)
        T[:3, 3] = position
        return T

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            p.stepSimulation(physicsClientId=self.client)

    def heightmap(self, workspace: Workspace = RAVENS_WORKSPACE) -> Heightmap:
        """The fused top-down heightmap of all cameras (``eqrobot.geometry.heightmap``)."""
        return heightmap_from_rgbd([render(camera, self.client) for camera in self.cameras], workspace)
