"""SYMSOL-I-style datasets on disk: one ``.npz`` per rendered image, written atomically, so a
folder is resumable (a run that was stopped goes on where it stopped) and a reader never sees
half a file.

Sample ``i`` of a set shows shape ``shapes[i % len(shapes)]`` at a uniform random orientation
drawn from seed ``seed + i``. Each file holds ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32
metres (0: nothing there), ``rotation`` (3, 3) the solid's orientation in the camera's optical
frame, ``equivalents`` (K, 3, 3) every orientation that gives the same image
(``rotation @ S`` for the solid's symmetries S), ``intrinsics`` (3, 3), and ``shape``.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eqrobot.geometry.rotations import random_rotations
from eqrobot.io.atomic import atomic_write_bytes
from eqrobot.progress import progress
from eqrobot.sim.symsol import SHAPES, SymsolCamera, known, symmetries

KEYS = ("rgb", "depth", "rotation", "equivalents", "intrinsics", "shape")


@dataclass
class PoseSample:
    rgb: np.ndarray
    depth: np.ndarray
    rotation: np.ndarray
    equivalents: np.ndarray
    intrinsics: np.ndarray
    shape: str


def sample_path(folder: str | Path, index: int) -> Path:
    return Path(folder) / f"{index:06d}.npz"


def write_dataset(folder: str | Path, n: int, seed: int = 0, shapes: tuple[str, ...] = SHAPES,
                  size: int = 128) -> int:
    """Render the samples 0..n-1 of the set into ``folder`` that are not there yet (a file
    that cannot be read is rendered again); returns how many were written."""
    unknown = [s for s in shapes if not known(s)]
    if unknown or not shapes:
        raise ValueError(f"shapes must be among {', '.join(SHAPES)}, duck, teddy, object-000 .. object-999; "
                         f"got {', '.join(unknown) or 'none'}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    missing = [i for i in range(n) if not _readable(sample_path(folder, i))]
    with SymsolCamera(size) as camera:
        for i in progress(missing, desc="rendering", unit="image", initial=n - len(missing), total=n):
            shape = shapes[i % len(shapes)]
            rotation = random_rotations(1, seed=seed + i)[0]
            rgb, depth = camera.render(shape, rotation)
            buffer = io.BytesIO()
            np.savez_compressed(buffer, rgb=rgb, depth=depth, rotation=rotation,
                                equivalents=rotation @ symmetries(shape), intrinsics=camera.intrinsics(),
                                shape=np.array(shape))
            atomic_write_bytes(sample_path(folder, i), buffer.getvalue())
    return len(missing)


def read_sample(path: str | Path) -> PoseSample:
    """One sample; ``ValueError`` naming the file when it is not one (never unpickles)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in KEYS if k not in data.files]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            values = {k: data[k] for k in KEYS}
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"{path}: not a pose sample ({e})") from e
    return PoseSample(**{**values, "shape": str(values["shape"])})


def iter_samples(folder: str | Path) -> Iterator[PoseSample]:
    """The folder's samples in order; an unreadable file is skipped with a warning."""
    for path in sorted(Path(folder).glob("*.npz")):
        try:
            yield read_sample(path)
        except ValueError as e:
            warnings.warn(f"skipped: {e}", stacklevel=2)


def _readable(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        read_sample(path)
    except ValueError:
        return False
    return True
