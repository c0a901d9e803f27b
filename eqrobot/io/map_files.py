"""Map files in the ROS map_server format: a YAML file naming an image (PGM, PNG, ...) and how
to read it (resolution, origin, thresholds), loaded into and written from
:class:`~eqrobot.geometry.types.OccupancyMap` (ROS cell values: -1 unknown, 0 free, 100 occupied).

The image's top row is the map's far edge (largest y), as map_server draws it; the
OccupancyMap's row 0 is at the origin, so rows are flipped on the way in and out.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import yaml

from eqrobot.geometry.types import OccupancyMap
from eqrobot.io.atomic import atomic_write_bytes, atomic_write_text

MODES = ("trinary", "scale", "raw")
DEFAULTS = {"negate": 0, "occupied_thresh": 0.65, "free_thresh": 0.196, "mode": "trinary"}


class MapFileError(ValueError):
    """A map YAML or its image that cannot be read; the message names the file and the field."""


def read_map(path: str | Path) -> OccupancyMap:
    """The map described by the map_server YAML file ``path``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"map file {path} does not exist")
    spec = _read_spec(path)
    image_path = Path(spec["image"])
    if not image_path.is_absolute():
        image_path = path.parent / image_path
    pixels = _read_image(image_path)
    data = _cells_from_pixels(pixels, spec)
    x, y, yaw = spec["origin"]
    return OccupancyMap(data=data[::-1].copy(), resolution=spec["resolution"], origin=_pose(x, y, yaw))


def write_map(path: str | Path, m: OccupancyMap, image_name: str | None = None) -> Path:
    """``path`` (YAML) and its PGM beside it, trinary, as map_saver writes them. The origin's
    rotation must be about z only (map_server's origin is x, y, yaw)."""
    path = Path(path)
    image_name = image_name or path.with_suffix(".pgm").name
    pixels = np.full(m.data.shape, 205, dtype=np.uint8)  # unknown
    pixels[m.data == 0] = 254
    pixels[m.data >= 65] = 0
    pixels[(m.data > 0) & (m.data < 65)] = 205
    header = f"P5\n{m.width} {m.height}\n255\n".encode()
    atomic_write_bytes(path.parent / image_name, header + pixels[::-1].tobytes())
    spec = {"image": image_name, "mode": "trinary", "resolution": float(m.resolution),
            "origin": [float(m.origin[0, 3]), float(m.origin[1, 3]), m.yaw],
            "negate": 0, "occupied_thresh": 0.65, "free_thresh": 0.196}
    return atomic_write_text(path, yaml.safe_dump(spec, sort_keys=False))


def _read_spec(path: Path) -> dict:
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise MapFileError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(spec, dict):
        raise MapFileError(f"{path}: expected a mapping with image, resolution and origin")
    missing = [k for k in ("image", "resolution", "origin") if k not in spec]
    if missing:
        raise MapFileError(f"{path}: missing {', '.join(missing)}")
    spec = {**DEFAULTS, **spec}
    try:
        spec["resolution"] = float(spec["resolution"])
        spec["origin"] = [float(v) for v in spec["origin"]]
        for key in ("occupied_thresh", "free_thresh"):
            spec[key] = float(spec[key])
    except (TypeError, ValueError) as e:
        raise MapFileError(f"{path}: resolution, origin and thresholds must be numbers ({e})") from e
    if not (math.isfinite(spec["resolution"]) and spec["resolution"] > 0):
        raise MapFileError(f"{path}: resolution must be positive, got {spec['resolution']}")
    if len(spec["origin"]) != 3:
        raise MapFileError(f"{path}: origin must be [x, y, yaw], got {spec['origin']}")
    if spec["mode"] not in MODES:
        raise MapFileError(f"{path}: mode must be one of {', '.join(MODES)}, got {spec['mode']!r}")
    if not 0 <= spec["free_thresh"] < spec["occupied_thresh"] <= 1:
        raise MapFileError(f"{path}: need 0 <= free_thresh < occupied_thresh <= 1, got "
                           f"{spec['free_thresh']} and {spec['occupied_thresh']}")
    return spec


def _read_image(path: Path) -> np.ndarray:
    """Grey levels (rows, cols) uint8; colour images are averaged over channels as map_server does."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise FileNotFoundError(f"map image {path} does not exist")
    try:
        with Image.open(io.BytesIO(path.read_bytes())) as img:
            array = np.asarray(img.convert("RGBA") if img.mode not in ("L", "I", "I;16") else img)
    except (UnidentifiedImageError, OSError) as e:
        raise MapFileError(f"{path}: not an image PIL can read ({e})") from e
    if array.ndim == 3:
        array = array[..., :3].mean(axis=-1)
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    return array


def _cells_from_pixels(pixels: np.ndarray, spec: dict) -> np.ndarray:
    if spec["mode"] == "raw":
        values = pixels.astype(np.int16)
        return np.where(values > 100, -1, values).astype(np.int8)
    p = pixels.astype(np.float64) / 255.0
    occupancy = p if spec["negate"] else 1.0 - p
    cells = np.full(pixels.shape, -1, dtype=np.int8)
    cells[occupancy > spec["occupied_thresh"]] = 100
    cells[occupancy < spec["free_thresh"]] = 0
    if spec["mode"] == "scale":
        between = (occupancy >= spec["free_thresh"]) & (occupancy <= spec["occupied_thresh"])
        scaled = 99 * (occupancy - spec["free_thresh"]) / (spec["occupied_thresh"] - spec["free_thresh"])
        cells[between] = np.round(scaled[between]).astype(np.int8)
    return cells


def _pose(x: float, y: float, yaw: float) -> np.ndarray:
    pose = np.eye(4)
    c, s = math.cos(yaw), math.sin(yaw)
    pose[:2, :2] = [[c, -s], [s, c]]
    pose[:2, 3] = x, y
    return pose
