"""Camera images on disk: RGB (PNG, JPEG, ...), depth (16-bit PNG in millimetres as ROS
drivers write it, or ``.npy`` in metres) and pinhole intrinsics (a ROS ``camera_info`` YAML
with ``camera_matrix.data`` or ``K``, or a plain ``K: [[..], [..], [..]]``).
Each reader raises ``ImageFileError`` naming the file and what is wrong with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ImageFileError(ValueError):
    pass


def read_rgb(path: str | Path) -> np.ndarray:
    """``(H, W, 3)`` uint8; grey images are repeated to three channels, alpha is dropped."""
    pixels = _read(path)
    if pixels.dtype != np.uint8:
        raise ImageFileError(f"{path}: an RGB image must have 8 bits per channel, got {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3])


def write_rgb(path: str | Path, rgb: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(path)
    return Path(path)


def read_depth(path: str | Path) -> np.ndarray:
    """``(H, W)`` float32 metres, 0 where there is no reading."""
    path = Path(path)
    if path.suffix == ".npy":
        try:
            depth = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ImageFileError(f"{path}: not a .npy array ({e})") from e
        if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
            raise ImageFileError(f"{path}: depth must be a 2-D float array in metres, got {depth.dtype} {depth.shape}")
        return np.nan_to_num(depth.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    pixels = _read(path)
    if pixels.ndim != 2 or pixels.dtype not in (np.uint16, np.int32):
        raise ImageFileError(f"{path}: a depth PNG must be one 16-bit channel in millimetres, "
                             f"got {pixels.dtype} {pixels.shape}")
    return pixels.astype(np.float32) / 1000.0


def write_depth(path: str | Path, depth_m: np.ndarray) -> Path:
    """16-bit PNG in millimetres (0: no reading)."""
    from PIL import Image

    millimetres = np.clip(np.round(np.asarray(depth_m) * 1000), 0, 65535).astype(np.uint16)
    Image.fromarray(millimetres).save(path)
    return Path(path)


def read_intrinsics(path: str | Path) -> np.ndarray:
    """The 3x3 camera matrix."""
    import yaml

    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ImageFileError(f"{path}: not a YAML file ({e})") from e
    values = None
    if isinstance(spec, dict):
        values = spec.get("camera_matrix", {}).get("data") if isinstance(spec.get("camera_matrix"), dict) \
            else spec.get("K", spec.get("k"))
    try:
        k = np.asarray(values, dtype=np.float64).reshape(3, 3)
    except (TypeError, ValueError) as e:
        raise ImageFileError(f"{path}: needs camera_matrix.data or K with 9 numbers") from e
    if not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise ImageFileError(f"{path}: focal lengths must be positive and finite, got K = {k.tolist()}")
    return k


def _read(path: str | Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image)
    except FileNotFoundError:
        raise
    except (OSError, UnidentifiedImageError) as e:
        raise ImageFileError(f"{path}: not an image PIL can read ({e})") from e
