"""The demonstration format: one ``.npz`` file per episode, independent of any simulator.

Per step ``t`` of an episode of ``T`` steps (the observation before action ``t``):
  color       (T, rows, cols, 3) uint8   top-down colour heightmap
  height      (T, rows, cols)    float32 metres above the workspace floor (z_min)
  pick, place (T, 4)             float64 suction-tip poses x, y, z (metres), yaw (rad), workspace frame
  reward      (T,)               float64 reward after the action
and per episode: ``bounds`` (3, 2) float64 workspace box (x, y, z min/max, metres), ``pixel_size``
(metres), ``task`` (str), ``seed`` (int; -1 when not from the simulator). Row index runs along
y, column along x (``eqrobot.geometry.heightmap``). Files hold plain arrays only: they load
with ``allow_pickle=False``. Build them from your own robot's cameras with
``eqrobot.geometry.heightmap.heightmap_from_rgbd`` and ``write_episode``.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eqrobot.io.atomic import atomic_write_bytes

STEP_KEYS = ("color", "height", "pick", "place", "reward")


@dataclass
class Episode:
    color: np.ndarray
    height: np.ndarray
    pick: np.ndarray
    place: np.ndarray
    reward: np.ndarray
    bounds: np.ndarray
    pixel_size: float
    task: str = ""
    seed: int = -1

    def __post_init__(self) -> None:
        self.color = np.asarray(self.color, dtype=np.uint8)
        self.height = np.asarray(self.height, dtype=np.float32)
        self.pick, self.place = (np.asarray(a, dtype=np.float64).reshape(-1, 4) for a in (self.pick, self.place))
        self.reward = np.asarray(self.reward, dtype=np.float64).reshape(-1)
        self.bounds = np.asarray(self.bounds, dtype=np.float64)
        steps = len(self.pick)
        if self.color.ndim != 4 or self.color.shape[-1] != 3 or self.height.shape != self.color.shape[:3]:
            raise ValueError(f"color must be (T, rows, cols, 3) and height (T, rows, cols), got {self.color.shape} "
                             f"and {self.height.shape}")
        if not (len(self.color) == len(self.place) == len(self.reward) == steps):
            raise ValueError(f"every step needs an observation, a pick, a place and a reward: got {len(self.color)}, "
                             f"{steps}, {len(self.place)}, {len(self.reward)}")
        if self.bounds.shape != (3, 2) or not self.pixel_size > 0:
            raise ValueError(f"bounds must be (3, 2) and pixel_size positive, got {self.bounds.shape}, "
                             f"{self.pixel_size}")

    def __len__(self) -> int:
        return len(self.pick)


def write_episode(path: str | Path, episode: Episode) -> Path:
    """Write atomically (a killed job leaves the old file or none, never half of one)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: getattr(episode, k) for k in STEP_KEYS}, bounds=episode.bounds,
                        pixel_size=np.float64(episode.pixel_size), task=np.str_(episode.task),
                        seed=np.int64(episode.seed))
    return atomic_write_bytes(path, buffer.getvalue())


def read_episode(path: str | Path) -> Episode:
    """Raises ``ValueError`` naming the file when it is not a readable episode."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return Episode(**{k: f[k] for k in STEP_KEYS}, bounds=f["bounds"], pixel_size=float(f["pixel_size"]),
                           task=str(f["task"]), seed=int(f["seed"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable episode ({e})") from e


def episode_files(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).glob("*.npz"))


def iter_episodes(folder: str | Path) -> Iterator[Episode]:
    """Every readable episode of ``folder``; unreadable files are skipped with a warning."""
    for path in episode_files(folder):
        try:
            yield read_episode(path)
        except ValueError as e:
            warnings.warn(f"skipping {e}", stacklevel=2)


def episode_path(folder: str | Path, seed: int) -> Path:
    return Path(folder) / f"{seed:06d}.npz"
