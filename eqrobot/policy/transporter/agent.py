"""The pick-and-place agent: heightmaps in, suction-tip pick and place poses out.

``TransporterAgent.load(path)(obs)`` or ``.act(obs)`` with ``obs = {"color": (rows, cols, 3)
uint8, "height": (rows, cols) float32}`` (the gymnasium env's observation, or a real robot's
heightmap from ``eqrobot.geometry.heightmap``), or ``obs = {"views": [RGBDView, ...]}`` (raw
RGB-D images with their cameras, fused here), returns ``{"pick": [x, y, z, yaw], "place": ...}``.
``act_batch(list_of_obs)`` runs the networks once for all of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from eqrobot.device import resolve_device
from eqrobot.geometry.heightmap import RAVENS_WORKSPACE, Workspace, heightmap_from_rgbd
from eqrobot.io.checkpoint import load_checkpoint, without_optimizer
from eqrobot.policy.transporter.graphs import graphed
from eqrobot.policy.transporter.model import AGENTS, Transporter, TransporterConfig, place_angles

HEIGHT_SCALE = 0.1  # metres: heights are divided by this before the network sees them
# Place angles tried when acting, per trained angle bin. The scores vary smoothly with the
# crop's turn, so trying the angles halfway between the 10 deg training bins as well halves
# the turn error: block-insertion's 5 mm fixture rejects 5-8 deg (measured on 50 test
# episodes with the benchmark's weights: eq 86 -> 96 % at 1 demo, 92 -> 96 % at 10 demos).
ANGLES_PER_BIN = 2


def scene_tensor(color: np.ndarray, height: np.ndarray) -> torch.Tensor:
    """(rows, cols, 3) uint8 + (rows, cols) metres -> (1, 4, rows, cols) network input."""
    rgb = torch.as_tensor(np.asarray(color, dtype=np.float32) / 255.0 - 0.5).permute(2, 0, 1)
    h = torch.as_tensor(np.asarray(height, dtype=np.float32) / HEIGHT_SCALE)[None]
    return torch.cat([rgb, h])[None]


class TransporterAgent:
    def __init__(self, model: Transporter, workspace: Workspace = RAVENS_WORKSPACE, device: str = "auto",
                 place_turns: int | None = None, cuda_graphs: bool = True) -> None:
        """``place_turns``: place angles tried per action (``ANGLES_PER_BIN`` per trained bin by
        default). ``cuda_graphs``: on a GPU, replay the networks from CUDA graphs (``graphs.py``);
        change the model's weights after this only through a new agent."""
        self.device = resolve_device(device).device
        self.model = model.to(self.device).eval()
        self._networks = (graphed(self.model, ("attention", "key", "query"))
                          if cuda_graphs and self.device.startswith("cuda") else self.model)
        self.workspace = workspace
        turns = place_turns or ANGLES_PER_BIN * model.config.rotations
        if turns < 1:
            raise ValueError(f"place_turns must be positive, got {turns}")
        self.angles = place_angles(turns).to(self.device)
        self.meta: dict = {}  # what the checkpoint says about the training (``load``)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", place_turns: int | None = None) -> TransporterAgent:
        """Weights and settings from a safetensors checkpoint (never unpickled). Raises
        ``ValueError`` naming the file when it holds another model's weights."""
        tensors, meta = load_checkpoint(path, "cpu")
        if meta.get("agent") not in AGENTS or "model" not in meta:
            # another capability's checkpoint would otherwise fail deep in the model constructor
            raise ValueError(f"{path} is not a transporter checkpoint (its metadata has agent "
                             f"{meta.get('agent')!r}; expected one of {list(AGENTS)})")
        try:
            config = TransporterConfig.from_dict(meta["model"])
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e
        model = Transporter(config)
        model.load_weights(without_optimizer(tensors))  # a run's resumable last.safetensors loads too
        ws = meta.get("workspace")
        workspace = Workspace(tuple(map(tuple, ws["bounds"])), ws["pixel_size"]) if ws else RAVENS_WORKSPACE
        agent = cls(model, workspace, device, place_turns)
        agent.meta = meta
        return agent

    def __call__(self, obs: dict) -> dict:
        return self.act(obs)

    def act(self, obs: dict) -> dict:
        return self.act_batch([obs])[0]

    @torch.no_grad()
    def act_batch(self, observations: list[dict]) -> list[dict]:
        heightmaps = [self._heightmaps(obs) for obs in observations]
        scenes = torch.cat([scene_tensor(color, height) for color, height in heightmaps]).to(self.device)
        picks = [_argmax_2d(scores) for scores in self._networks.pick_logits(scenes)]
        places = self._networks.place_logits(scenes, torch.tensor(picks, device=self.device), self.angles)
        actions = []
        for (_, height), pick_rc, place in zip(heightmaps, picks, places, strict=True):
            turn, row, col = np.unravel_index(int(torch.argmax(place)), tuple(place.shape))
            angle = float(self.angles[turn])
            actions.append({"pick": self._pose(pick_rc, height, 0.0), "place": self._pose((row, col), height, angle)})
        return actions

    def _heightmaps(self, obs: dict) -> tuple[np.ndarray, np.ndarray]:
        if "views" in obs:
            fused = heightmap_from_rgbd(obs["views"], self.workspace)
            return fused.color, fused.height
        height = np.asarray(obs["height"], dtype=np.float32)
        if height.shape != self.workspace.shape:
            raise ValueError(f"heightmap is {height.shape}, the agent was trained on {self.workspace.shape}")
        return obs["color"], height

    def _pose(self, rc, height: np.ndarray, yaw: float) -> np.ndarray:
        """Tip pose over pixel ``rc``: its centre, at the height the cameras saw there."""
        x, y = self.workspace.pixel_to_xy(np.asarray(rc))
        z = self.workspace.array[2, 0] + float(height[rc[0], rc[1]])
        return np.array([x, y, z, np.angle(np.exp(1j * yaw))])


def _argmax_2d(scores: torch.Tensor) -> tuple[int, int]:
    row, col = np.unravel_index(int(torch.argmax(scores)), tuple(scores.shape))
    return int(row), int(col)
