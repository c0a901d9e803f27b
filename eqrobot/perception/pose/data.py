"""SYMSOL-I-style datasets on disk: one ``.npz`` per rendered image, written atomically, so a
folder is resumable (a run that was stopped goes on where it stopped) and a reader never sees
half a file.

Sample ``i`` of a set shows shape ``shapes[i % len(shapes)]`` at a uniform random orientation
drawn from seed ``seed + i``. Each file holds ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32
metres (0: nothing there), ``rotation`` (3, 3) the solid's orientation in the camera's optical
frame, ``equivalents`` (K, 3, 3) every orientation that gives the same image
(``rotation @ S`` for the solid's symmetries S; for a marked solid those that also show the mark
where it is, or hide it), ``intrinsics`` (3, 3), and ``shape``.
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

TEST_SEED = 1_000_000  # sample i of the test set is drawn from TEST_SEED + i; training sets start at 0
VALIDATION_SEED = 2_000_000
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


def write_dataset(folder: str | Path, n: int, seed: int = 0, shapes: tuple[str, ...] | None = None,
                  size: int = 128) -> int:
    """Render the samples 0..n-1 of the set into ``folder`` that are not there yet (a file
    that cannot be read is rendered again); returns how many were written. ``shapes``: the
    five SYMSOL-I solids unless given."""
    from eqrobot.sim.symsol import SHAPES, SymsolCamera, equivalents, known

    shapes = SHAPES if shapes is None else shapes
    unknown = [s for s in shapes if not known(s)]
    if unknown or not shapes:
        raise ValueError(f"shapes must be among {', '.join(SHAPES)}, tetX, cylO, sphX, duck, teddy, "
                         "object-000 .. object-999 or mesh files that exist; "
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
                                equivalents=equivalents(shape, rotation), intrinsics=camera.intrinsics(),
                                shape=np.array(shape))
            atomic_write_bytes(sample_path(folder, i), buffer.getvalue())
    return len(missing)


def write_test_set(folder: str | Path, n: int = 500, shapes: tuple[str, ...] | None = None) -> Path:
    """The first ``n`` images of the fixed test set (128 x 128) in ``folder``."""
    write_dataset(folder, n, TEST_SEED, shapes)
    return Path(folder)


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


@dataclass
class PoseArrays:
    """A whole set in memory: ``rgb (N, H, W, 3)`` uint8, ``rotation (N, 3, 3)``, ``shape (N,)``
    names, ``equivalents`` a list of ``(K_i, 3, 3)``."""

    rgb: np.ndarray
    rotation: np.ndarray
    shape: np.ndarray
    equivalents: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.rgb)

    def subset(self, index: np.ndarray) -> PoseArrays:
        return PoseArrays(self.rgb[index], self.rotation[index], self.shape[index],
                          [self.equivalents[i] for i in index])


def load_arrays(path: str | Path, limit: int | None = None) -> PoseArrays:
    """A set folder (its first ``limit`` samples) or a file written by ``pack``, in memory."""
    path = Path(path)
    if path.is_file():
        return _unpack(path, limit)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no pose data there (a folder from `eqrobot dataset pose` or a packed .npz)")
    samples = list(iter_samples(path))[:limit]
    if not samples:
        raise ValueError(f"{path}: no pose samples in this folder (make some with `eqrobot dataset pose`)")
    return PoseArrays(np.stack([s.rgb for s in samples]), np.stack([s.rotation for s in samples]).astype(np.float32),
                      np.array([s.shape for s in samples]), [s.equivalents.astype(np.float32) for s in samples])


def pack(folder: str | Path, out: str | Path, equivalents: bool = True) -> Path:
    """One compressed file holding a whole set (images and ground truth, no depth). Without
    ``equivalents`` (training needs only the drawn rotation) it is ~10x smaller: a cylinder
    has 720."""
    arrays = load_arrays(folder)
    extra = {}
    if equivalents:
        extra = {"equivalents": np.concatenate(arrays.equivalents),
                 "counts": np.array([len(e) for e in arrays.equivalents])}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, rgb=arrays.rgb, rotation=arrays.rotation, shape=arrays.shape, **extra)
    return atomic_write_bytes(out, buffer.getvalue())


def _unpack(path: Path, limit: int | None) -> PoseArrays:
    try:
        with np.load(path, allow_pickle=False) as data:
            rgb, rotation, shape = data["rgb"], data["rotation"], data["shape"]
            if "equivalents" in data.files:
                equivalents = np.split(data["equivalents"], np.cumsum(data["counts"])[:-1])
            else:
                equivalents = list(rotation[:, None])
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise ValueError(f"{path}: not a packed pose set ({e})") from e
    n = len(rgb) if limit is None else min(limit, len(rgb))
    return PoseArrays(rgb[:n], rotation[:n], shape[:n], equivalents[:n])
