"""Point clouds from and to files: PLY, PCD, XYZ/XYZN and PTS (through Open3D), numpy .npy and .npz.

What each format keeps: .ply points, normals, colours (float64); .pcd the same in float32;
.xyz points; .xyzn points and normals (read only); .pts points and colours (read only);
.npy ``(N, 3)`` points or ``(N, 6)`` points + normals; .npz ``points`` and optional
``normals``, ``colors`` (uint8 RGB) and ``intensity``. Files hold no frame or stamp.

Reading drops points with a NaN/Inf coordinate (with their attributes). Open3D returns an
empty or partly garbage cloud instead of raising when a file is truncated or corrupt, so
the declared size in the file's own header is checked before and after Open3D reads it.
Every failure is a :class:`CloudFileError` with a one-line message naming the file and the
reason. How many points are enough is for the caller to decide.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import open3d as o3d

from eqrobot.geometry.types import PointCloud
from eqrobot.io.atomic import atomic_save_npy, atomic_write_bytes, atomic_write_text

CLOUD_EXTENSIONS = (".ply", ".pcd", ".xyz", ".xyzn", ".pts", ".npy", ".npz")
WRITABLE_EXTENSIONS = (".ply", ".pcd", ".xyz", ".npy", ".npz")

_HEADER_BYTES = 65536
_PLY_TYPE_SIZES = {
    "char": 1, "int8": 1, "uchar": 1, "uint8": 1, "short": 2, "int16": 2, "ushort": 2, "uint16": 2,
    "int": 4, "int32": 4, "uint": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8, "float64": 8,
}


class CloudFileError(ValueError):
    """A point cloud file that cannot be read or written; ``path`` and ``reason`` are kept."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")


# ---------------------------------------------------------------- reading


def read_cloud(path: str | Path, frame_id: str = "") -> PointCloud:
    """The cloud in ``path`` (see the module docstring for formats), non-finite points dropped."""
    path = Path(path)
    ext = _checked_extension(path, CLOUD_EXTENSIONS)
    if not path.exists():
        raise CloudFileError(path, "no such file")
    if not path.is_file():
        raise CloudFileError(path, "not a regular file")
    if ext == ".npy":
        cloud = _read_npy(path)
    elif ext == ".npz":
        cloud = _read_npz(path)
    else:
        cloud = _read_with_open3d(path, ext)
    cloud.frame_id = frame_id
    return _drop_nonfinite(path, cloud)


def _checked_extension(path: Path, supported: tuple[str, ...]) -> str:
    ext = path.suffix.lower()
    if ext not in supported:
        raise CloudFileError(path, f"unknown extension '{path.suffix}' (supported: {', '.join(supported)})")
    return ext


def _drop_nonfinite(path: Path, cloud: PointCloud) -> PointCloud:
    if len(cloud) == 0:
        raise CloudFileError(path, "empty cloud (no points)")
    finite = np.isfinite(cloud.points).all(axis=1)
    if not finite.any():
        raise CloudFileError(path, f"all {len(cloud)} points are NaN/Inf")
    return cloud if finite.all() else cloud.select(finite)


def _read_npy(path: Path) -> PointCloud:
    array = _load_numpy(path)
    if not isinstance(array, np.ndarray):
        array.close()
        raise CloudFileError(path, "holds an .npz archive, not a single array (name it .npz)")
    array = _numeric(path, "array", array)
    if array.ndim != 2 or array.shape[1] not in (3, 6):
        raise CloudFileError(
            path, f"wrong array shape {array.shape}: expected (N, 3) xyz or (N, 6) xyz + normals")
    normals = array[:, 3:] if array.shape[1] == 6 else None
    return PointCloud(array[:, :3], normals=normals)


def _read_npz(path: Path) -> PointCloud:
    arrays = _load_npz_arrays(path)
    if "points" not in arrays:
        raise CloudFileError(path, f"no 'points' array (the archive has: {', '.join(sorted(arrays)) or 'nothing'})")
    points = _numeric(path, "points", arrays["points"])
    if points.ndim != 2 or points.shape[1] != 3:
        raise CloudFileError(path, f"wrong array shape {points.shape} for 'points': expected (N, 3)")
    normals = _optional_rows(path, arrays, "normals", (len(points), 3))
    colors = _optional_rows(path, arrays, "colors", (len(points), 3))
    intensity = _optional_rows(path, arrays, "intensity", (len(points),))
    return PointCloud(
        points, normals=normals, intensity=None if intensity is None else intensity.astype(np.float32),
        colors=None if colors is None else _colors_to_uint8(path, colors),
    )


def _load_numpy(path: Path):
    with path.open("rb") as f:
        magic = f.read(6)
    if magic != b"\x93NUMPY" and not magic.startswith(b"PK"):
        raise CloudFileError(path, "unreadable or corrupt file: neither a numpy .npy array nor an .npz archive")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CloudFileError(path, f"unreadable or corrupt file ({err})") from err


def _load_npz_arrays(path: Path) -> dict[str, np.ndarray]:
    loaded = _load_numpy(path)
    if isinstance(loaded, np.ndarray):
        raise CloudFileError(path, "holds a single array, not an .npz archive (name it .npy)")
    try:
        with loaded:
            return {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CloudFileError(path, f"unreadable or corrupt file ({err})") from err


def _numeric(path: Path, name: str, array: np.ndarray) -> np.ndarray:
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise CloudFileError(path, f"'{name}' has dtype {array.dtype}, expected real numbers")
    return array.astype(np.float64, copy=False)


def _optional_rows(path: Path, arrays: dict, name: str, shape: tuple[int, ...]) -> np.ndarray | None:
    if name not in arrays:
        return None
    array = arrays[name]
    if array.shape != shape:
        raise CloudFileError(path, f"wrong array shape {array.shape} for '{name}': expected {shape} to match 'points'")
    return array if name == "colors" else _numeric(path, name, array)


def _colors_to_uint8(path: Path, colors: np.ndarray) -> np.ndarray:
    """uint8 as is; other integers must lie in 0..255; floats in [0, 1] (Open3D's convention)."""
    low, high = (colors.min(), colors.max()) if colors.size else (0, 0)
    if np.issubdtype(colors.dtype, np.integer) and low >= 0 and high <= 255:
        return colors.astype(np.uint8)
    if np.issubdtype(colors.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        return _unit_to_uint8(colors)
    raise CloudFileError(path, "'colors' must be integers in 0..255 or floats in [0, 1]")


def _unit_to_uint8(colors: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(colors) * 255.0), 0, 255).astype(np.uint8)


def _read_with_open3d(path: Path, ext: str) -> PointCloud:
    declared = _declared_point_count(path, ext)
    if declared == 0:
        raise CloudFileError(path, "empty cloud (no points)")
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        o3d_cloud = o3d.io.read_point_cloud(str(path), remove_nan_points=False, remove_infinite_points=False)
    points = np.array(o3d_cloud.points, dtype=np.float64)
    if len(points) != declared:
        declared_by = "non-blank lines" if ext in (".xyz", ".xyzn") else "points in its header"
        raise CloudFileError(
            path, f"unreadable or corrupt file: {declared} {declared_by}, but {len(points)} points could be read")
    normals = np.array(o3d_cloud.normals, dtype=np.float64) if o3d_cloud.has_normals() else None
    colors = _unit_to_uint8(o3d_cloud.colors) if o3d_cloud.has_colors() else None
    return PointCloud(points, normals=normals, colors=colors)


# ------------------------------------------- header checks (Open3D does not report errors)


def _declared_point_count(path: Path, ext: str) -> int:
    """Points the file says it holds, after checking that its data section is long enough."""
    if ext == ".ply":
        return _ply_point_count(path)
    if ext == ".pcd":
        return _pcd_point_count(path)
    if ext == ".pts":
        return _pts_point_count(path)
    return _count_data_lines(path)  # .xyz / .xyzn: one point per non-blank line


def _count_data_lines(path: Path, start: int = 0) -> int:
    """Non-blank lines from byte ``start`` on, streamed (text clouds can be large)."""
    with path.open("rb") as f:
        f.seek(start)
        return sum(1 for line in f if line.strip())


def _split_header(path: Path, last_keyword: bytes, kind: str) -> tuple[list[str], int]:
    """Header lines up to and including the line starting with ``last_keyword``; offset of the data."""
    with path.open("rb") as f:
        head = f.read(_HEADER_BYTES)
    offset = 0
    lines = []
    for raw in head.splitlines(keepends=True):
        offset += len(raw)
        lines.append(raw.decode("ascii", errors="replace").strip())
        if raw.lstrip().startswith(last_keyword) and raw.endswith(b"\n"):
            return lines, offset
    raise CloudFileError(path, f"unreadable or corrupt file: no {kind} header ending in '{last_keyword.decode()}'")


def _ply_point_count(path: Path) -> int:
    lines, data_start = _split_header(path, b"end_header", "PLY")
    if lines[0] != "ply":
        raise CloudFileError(path, "unreadable or corrupt file: it does not start with 'ply'")
    data_format, elements = _parse_ply_header(path, lines)
    if "vertex" not in [name for name, _, _ in elements]:
        raise CloudFileError(path, "unreadable or corrupt file: the PLY header has no vertex element")
    upto_vertex = elements[: [name for name, _, _ in elements].index("vertex") + 1]
    if data_format == "ascii":
        _check_line_count(path, data_start, sum(count for _, count, _ in upto_vertex))
    elif all(row_size is not None for _, _, row_size in upto_vertex):
        _check_byte_count(path, data_start, sum(count * row_size for _, count, row_size in upto_vertex))
    return upto_vertex[-1][1]


def _parse_ply_header(path: Path, lines: list[str]) -> tuple[str, list[tuple[str, int, int | None]]]:
    """Format and ``(name, count, bytes per row or None when a row has lists)`` per element."""
    data_format, elements = "", []
    try:
        for words in (line.split() for line in lines):
            if words[:1] == ["format"]:
                data_format = words[1]
            elif words[:1] == ["element"]:
                elements.append([words[1], int(words[2]), 0])
            elif words[:1] == ["property"] and elements:
                size = None if words[1] == "list" else _PLY_TYPE_SIZES[words[1]]
                elements[-1][2] = None if size is None or elements[-1][2] is None else elements[-1][2] + size
    except (IndexError, KeyError, ValueError) as err:
        raise CloudFileError(path, f"unreadable or corrupt file: bad PLY header ({err!r})") from err
    return data_format, [tuple(e) for e in elements]


def _pcd_point_count(path: Path) -> int:
    lines, data_start = _split_header(path, b"DATA", "PCD")
    fields = {words[0].upper(): words[1:] for words in (line.split() for line in lines) if words}
    try:
        count = int(fields["POINTS"][0]) if "POINTS" in fields else int(fields["WIDTH"][0]) * int(fields["HEIGHT"][0])
        counts = fields.get("COUNT") or ["1"] * len(fields["SIZE"])
        point_size = sum(int(size) * int(n) for size, n in zip(fields["SIZE"], counts, strict=True))
    except (KeyError, IndexError, ValueError) as err:
        raise CloudFileError(path, f"unreadable or corrupt file: bad PCD header ({err!r})") from err
    data_format = fields["DATA"][0].lower() if fields["DATA"] else ""
    if data_format == "ascii":
        _check_line_count(path, data_start, count)
    elif data_format == "binary":
        _check_byte_count(path, data_start, count * point_size)
    return count


def _pts_point_count(path: Path) -> int:
    with path.open("rb") as f:
        first = next((line for line in f if line.strip()), b"")
        data_start = f.tell()
    if not first:
        return 0
    try:
        count = int(first)
    except ValueError as err:
        raise CloudFileError(path, "unreadable or corrupt file: a .pts file starts with its point count") from err
    _check_line_count(path, data_start, count)
    return count


def _check_line_count(path: Path, data_start: int, needed: int) -> None:
    have = _count_data_lines(path, data_start)
    if have < needed:
        raise CloudFileError(path, f"truncated file: the header declares {needed} data lines, it has {have}")


def _check_byte_count(path: Path, data_start: int, needed: int) -> None:
    have = path.stat().st_size - data_start
    if have < needed:
        raise CloudFileError(path, f"truncated file: the header declares {needed} data bytes, it has {have}")


# ---------------------------------------------------------------- writing


def write_cloud(path: str | Path, cloud: PointCloud) -> Path:
    """Write ``cloud`` atomically to ``path`` (one of :data:`WRITABLE_EXTENSIONS`); returns the path."""
    path = Path(path)
    ext = _checked_extension(path, WRITABLE_EXTENSIONS)
    if len(cloud) == 0:
        raise CloudFileError(path, "refusing to write an empty cloud (it could not be read back)")
    writers = {".npy": _write_npy, ".npz": _write_npz, ".xyz": _write_xyz}
    writers.get(ext, _write_with_open3d)(path, cloud)
    return path


def _write_npy(path: Path, cloud: PointCloud) -> None:
    array = cloud.points if cloud.normals is None else np.hstack([cloud.points, cloud.normals])
    atomic_save_npy(path, np.asarray(array, dtype=np.float64))


def _write_npz(path: Path, cloud: PointCloud) -> None:
    arrays = {"points": np.asarray(cloud.points, dtype=np.float64)}
    for name in ("normals", "colors", "intensity"):
        if getattr(cloud, name) is not None:
            arrays[name] = np.asarray(getattr(cloud, name))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _write_xyz(path: Path, cloud: PointCloud) -> None:
    # Open3D writes .xyz with 10 fixed decimals; 17 significant digits round-trip float64 exactly.
    buffer = io.StringIO()
    np.savetxt(buffer, np.asarray(cloud.points, dtype=np.float64), fmt="%.17g")
    atomic_write_text(path, buffer.getvalue())


def _write_with_open3d(path: Path, cloud: PointCloud) -> None:
    """Open3D writes only to a named path, so write a same-folder temporary file and rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix.lower(), dir=path.parent)
    os.close(fd)
    try:
        with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
            written = o3d.io.write_point_cloud(tmp, _to_open3d(cloud))
        if not written:
            raise CloudFileError(path, "Open3D could not write the file")
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _to_open3d(cloud: PointCloud) -> o3d.geometry.PointCloud:
    o3d_cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(cloud.points, dtype=np.float64)))
    if cloud.normals is not None:
        o3d_cloud.normals = o3d.utility.Vector3dVector(np.asarray(cloud.normals, dtype=np.float64))
    if cloud.colors is not None:
        o3d_cloud.colors = o3d.utility.Vector3dVector(np.asarray(cloud.colors, dtype=np.float64) / 255.0)
    return o3d_cloud


def _fsync_file(path: str | Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
