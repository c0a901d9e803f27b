"""The pick-and-place agent on one real (or simulated) RGB-D camera: colour + depth +
intrinsics + the camera's pose in the workspace frame -> top-down heightmap -> pick and place
poses. No ROS here: ``eqrobot.ros.pick_place_node`` only converts messages and calls this.

    agent = load_agent("")  # "" = the shipped weights
    action = act_from_rgbd(agent, color, depth, intrinsics, camera_pose, depth_scale=0.001)
    pick_T, place_T = action_to_matrices(action)  # 4x4, yaw about the workspace z axis
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eqrobot.geometry.heightmap import Heightmap, RGBDView, heightmap_from_rgbd
from eqrobot.geometry.transforms import se2, se2_to_se3
from eqrobot.geometry.types import CameraIntrinsics
from eqrobot.policy.transporter.agent import TransporterAgent
from eqrobot.resources import share_file

DEFAULT_CHECKPOINT = "models/transporter/block-insertion.safetensors"


def resolve_checkpoint(path: str | Path = "") -> Path:
    """``path``, or the shipped weights when it is empty (wherever eqrobot is installed)."""
    if path:
        return Path(path)
    try:
        return share_file(DEFAULT_CHECKPOINT)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"no shipped transporter weights ({e}); train an agent "
                                "(eqrobot train transporter ...) and give its checkpoint") from e


def load_agent(path: str | Path = "", device: str = "auto") -> TransporterAgent:
    """The agent of checkpoint ``path`` ("" = the shipped weights). Raises ``FileNotFoundError``
    or ``ValueError`` saying what is wrong with the file, never a bare ``KeyError``."""
    path = resolve_checkpoint(path)
    return TransporterAgent.load(path, device)


def camera_heightmap(agent: TransporterAgent, color: np.ndarray, depth: np.ndarray, intrinsics: CameraIntrinsics,
                     camera_pose: np.ndarray, depth_scale: float = 1.0) -> Heightmap:
    """One camera's view as the agent's observation (its workspace and resolution).

    ``color`` (H, W, 3) uint8 RGB, ``depth`` (H, W) in units of ``depth_scale`` metres,
    ``camera_pose`` the 4x4 pose of the optical frame (x right, y down, z forward) in the
    workspace frame. Raises ``ValueError`` when the images do not match the intrinsics or
    the camera sees nothing of the workspace.
    """
    if np.asarray(color).dtype != np.uint8:
        raise ValueError(f"color image must be uint8, got {np.asarray(color).dtype}")
    view = RGBDView(color, depth, intrinsics, camera_pose, depth_scale)
    heightmap = heightmap_from_rgbd([view], agent.workspace)
    if not heightmap.seen.any():
        # Almost always a wrong camera pose (or depth units): say so instead of acting on an empty table.
        raise ValueError("no depth pixel falls inside the workspace: check the camera pose and the depth scale")
    return heightmap


def act_from_rgbd(agent: TransporterAgent, color: np.ndarray, depth: np.ndarray, intrinsics: CameraIntrinsics,
                  camera_pose: np.ndarray, depth_scale: float = 1.0) -> dict:
    """``{"pick": [x, y, z, yaw], "place": [x, y, z, yaw]}`` in the workspace frame (see
    :func:`camera_heightmap` for the arguments)."""
    heightmap = camera_heightmap(agent, color, depth, intrinsics, camera_pose, depth_scale)
    return agent.act({"color": heightmap.color, "height": heightmap.height})


def action_to_matrices(action: dict) -> np.ndarray:
    """``(2, 4, 4)``: the pick and the place pose, each a turn by its yaw about z at ``(x, y, z)``."""
    poses = np.stack([np.asarray(action["pick"], dtype=np.float64), np.asarray(action["place"], dtype=np.float64)])
    return se2_to_se3(se2(poses[:, 0], poses[:, 1], poses[:, 3]), poses[:, 2])
