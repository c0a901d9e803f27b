"""Trajectories in the TUM RGB-D format: one ``timestamp tx ty tz qx qy qz qw`` line per pose.

The timestamp is in seconds (written with 9 decimals, i.e. exact nanoseconds); the
quaternion is ``(x, y, z, w)``. Blank lines and ``#`` comments are ignored when reading.
Poses are 4x4 homogeneous transforms, as everywhere in :mod:`eqrobot.geometry`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from eqrobot.geometry.transforms import transform_from_quat, transform_to_quat
from eqrobot.io.atomic import atomic_write_text

_NS_PER_S = 1_000_000_000


def write_tum(path: str | Path, stamps_ns, transforms) -> Path:
    """Write ``N`` stamps (int nanoseconds) and ``(N, 4, 4)`` transforms atomically to ``path``."""
    stamps = np.asarray(stamps_ns)
    transforms = np.asarray(transforms, dtype=np.float64)
    if transforms.ndim != 3 or transforms.shape[1:] != (4, 4):
        raise ValueError(f"write_tum {path}: transforms must have shape (N, 4, 4), got {transforms.shape}")
    if stamps.shape != (len(transforms),) or not np.issubdtype(stamps.dtype, np.integer):
        raise ValueError(
            f"write_tum {path}: stamps_ns must be {len(transforms)} integers (nanoseconds), "
            f"got shape {stamps.shape} dtype {stamps.dtype}")
    translations, quats = transform_to_quat(transforms)
    lines = [
        " ".join([_ns_to_seconds_text(int(stamp)), *(repr(float(v)) for v in (*t, *q))])
        for stamp, t, q in zip(stamps, translations, quats, strict=True)
    ]
    return atomic_write_text(path, "".join(line + "\n" for line in lines))


def read_tum(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(stamps_ns (N,) int64, transforms (N, 4, 4))`` from a TUM file; ``ValueError`` names bad lines."""
    path = Path(path)
    stamps, translations, quats = [], [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        words = line.replace(",", " ").split()
        if not words or words[0].startswith("#"):
            continue
        stamp, values = _parse_pose_line(path, number, words)
        stamps.append(stamp)
        translations.append(values[:3])
        quats.append(values[3:])
    if not stamps:
        return np.empty(0, dtype=np.int64), np.empty((0, 4, 4))
    return np.asarray(stamps, dtype=np.int64), transform_from_quat(np.asarray(quats), np.asarray(translations))


def _parse_pose_line(path: Path, number: int, words: list[str]) -> tuple[int, np.ndarray]:
    if len(words) != 8:
        raise ValueError(f"{path}:{number}: expected 8 values 'timestamp tx ty tz qx qy qz qw', got {len(words)}")
    try:
        stamp = _seconds_text_to_ns(words[0])
        values = np.array([float(w) for w in words[1:]])
    except (ValueError, InvalidOperation, OverflowError) as err:
        raise ValueError(f"{path}:{number}: not a number in {' '.join(words)!r}") from err
    if not np.isfinite(values).all():
        raise ValueError(f"{path}:{number}: NaN or Inf in {' '.join(words)!r}")
    if np.linalg.norm(values[3:]) < 1e-9:
        raise ValueError(f"{path}:{number}: zero quaternion in {' '.join(words)!r}")
    return stamp, values


def _ns_to_seconds_text(ns: int) -> str:
    # Integer arithmetic: a float of seconds since 1970 cannot hold every nanosecond.
    sign = "-" if ns < 0 else ""
    seconds, nanoseconds = divmod(abs(ns), _NS_PER_S)
    return f"{sign}{seconds}.{nanoseconds:09d}"


def _seconds_text_to_ns(text: str) -> int:
    seconds = Decimal(text)
    if not seconds.is_finite():
        raise ValueError(f"timestamp {text!r} is not finite")
    return int((seconds * _NS_PER_S).to_integral_value())
