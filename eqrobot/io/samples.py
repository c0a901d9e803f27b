"""Real shapes that ship with installed packages (nothing is downloaded), as meshes
or as point clouds sampled from their surfaces: for demos, tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eqrobot.geometry.types import PointCloud

# name -> path relative to pybullet_data
SAMPLE_MESHES = {
    "bunny": "bunny.obj",
    "duck": "duck.obj",
    "teddy": "teddy2_VHACD_CHs.obj",
    "soccerball": "soccerball.obj",
}


@dataclass
class Mesh:
    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64, triangles
    name: str = ""


def pybullet_data_dir() -> Path:
    try:
        import pybullet_data
    except ImportError as e:  # pragma: no cover - pybullet is a hard dependency
        raise RuntimeError("sample shapes need the pybullet package (pip install pybullet)") from e
    return Path(pybullet_data.getDataPath())


def read_obj(path: str | Path) -> Mesh:
    """Vertices and faces of a Wavefront OBJ (polygons fan-triangulated; no materials)."""
    path = Path(path)
    vertices, faces = [], []
    with path.open("r", errors="replace") as f:
        for line in f:
            if line.startswith("v "):
                vertices.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("f "):
                idx = [int(tok.split("/")[0]) for tok in line.split()[1:]]
                faces.extend([idx[0], idx[i], idx[i + 1]] for i in range(1, len(idx) - 1))
    if not vertices or not faces:
        raise ValueError(f"{path}: no vertices or faces found in the OBJ file")
    v = np.asarray(vertices, dtype=np.float64)
    fa = np.asarray(faces, dtype=np.int64)
    fa = np.where(fa < 0, fa + len(v), fa - 1)  # OBJ indices are 1-based; negatives count from the end
    if fa.min() < 0 or fa.max() >= len(v):
        raise ValueError(f"{path}: face index out of range (file has {len(v)} vertices)")
    return Mesh(v, fa, path.stem)


def sample_mesh(name: str) -> Mesh:
    """One of :data:`SAMPLE_MESHES`, read from the installed pybullet_data."""
    if name not in SAMPLE_MESHES:
        raise ValueError(f"unknown sample '{name}'; available: {sorted(SAMPLE_MESHES)}")
    return read_obj(pybullet_data_dir() / SAMPLE_MESHES[name])


def stanford_bunny_scan() -> Mesh:
    """The Stanford bunny as scanned (50k vertices, holes and all; units as in the file,
    about 50 across), shipped with the ``pymeshfix`` package."""
    try:
        import pymeshfix
    except ImportError as e:  # pragma: no cover - a hard dependency
        raise RuntimeError("the bunny scan ships with pymeshfix (pip install pymeshfix)") from e
    import open3d as o3d

    path = Path(pymeshfix.__file__).parent / "examples" / "StanfordBunny.ply"
    mesh = o3d.io.read_triangle_mesh(str(path))
    if len(mesh.vertices) == 0:
        raise RuntimeError(f"{path}: could not read the bunny scan")
    return Mesh(np.asarray(mesh.vertices).copy(), np.asarray(mesh.triangles).astype(np.int64), "bunny_scan")


def sample_surface(mesh: Mesh, n: int, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniformly distributed over the mesh surface and their face normals."""
    rng = np.random.default_rng(seed)
    tri = mesh.vertices[mesh.faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(cross, axis=1)
    if area.sum() <= 0:
        raise ValueError(f"mesh '{mesh.name}' has zero surface area")
    face = rng.choice(len(tri), size=n, p=area / area.sum())
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[face]
    points = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    normals = cross[face] / np.maximum(area[face, None], 1e-12)
    return points, normals


def sample_cloud(name: str = "bunny", n: int = 20000, seed: int = 0, frame_id: str = "object") -> PointCloud:
    """A point cloud sampled from a shipped mesh, with normals."""
    points, normals = sample_surface(sample_mesh(name), n, seed)
    return PointCloud(points, frame_id=frame_id, normals=normals)
