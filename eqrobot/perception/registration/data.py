"""Synthetic registration problems with exact ground truth, deterministic for a seed.

Objects: random trimesh primitives (boxes, cylinders, capsules, cones, tori), compound
shapes glued from 2-4 of them, the 1000 ``pybullet_data/random_urdfs`` meshes and, for
the test split only, the shipped 'bunny', 'duck' and 'teddy'; ``load_mesh('bunny_scan')``
gives the real Stanford bunny scan shipped with pymeshfix (for benchmarks). Every mesh is centred on
its bounding-box centre and scaled so the bounding-box diagonal is 1: each object is
about 1 m across and fits in a sphere of radius 0.5 m around the origin.

Two kinds of pairs, both with full SO(3) rotations applied to the source:

* ``partial``: two depth-camera views of the object (ray cast), the camera angle
  between them chosen so that a target share of the source overlaps the target.
* ``rpmnet``: the RPM-Net protocol (Yew & Lee, CVPR 2020): one set of surface
  samples, source and target each cropped by an independent random plane, clipped
  Gaussian jitter; unlike RPM-Net's 45 degree limit the rotation is uniform on SO(3).

Splits hold out whole meshes: no mesh name is in more than one of train, val, test.
"""

from __future__ import annotations

import io
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import open3d as o3d
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from tqdm import tqdm

from eqrobot.geometry.rotations import random_rotations
from eqrobot.geometry.transforms import apply, invert, make_transform, random_transforms
from eqrobot.io.atomic import atomic_write_bytes
from eqrobot.io.samples import (
    SAMPLE_MESHES,
    Mesh,
    pybullet_data_dir,
    read_obj,
    sample_surface,
    stanford_bunny_scan,
)
from eqrobot.perception.registration.pairs import RegistrationPair

SPLITS = ("train", "val", "test")
PRIMITIVE_KINDS = ("box", "cylinder", "capsule", "cone", "torus")
NAMED_TEST_MESHES = ("bunny", "duck", "teddy")
_RANDOM_URDF_RANGES = {"train": range(0, 800), "val": range(800, 900), "test": range(900, 1000)}
_BROKEN_RANDOM_URDFS = {168}  # every vertex of 168.obj is NaN (pybullet_data 3.2.7)
# Disjoint seed blocks keep generated shapes of different splits apart.
_SEED_BASE = {"train": 0, "val": 100_000, "test": 200_000}
_N_PER_PRIMITIVE = {"train": 100, "val": 10, "test": 10}
_N_COMPOUND = {"train": 500, "val": 50, "test": 50}
_CAMERA_DISTANCE = (1.2, 2.0)  # metres from the object centre
_MIN_VIEW_POINTS = 256
# Views like a depth camera's on a 1 m object: what the real-shape benchmark, the demo and
# the snapshot choice register (denser and less noisy than the training views).
DEPTH_CAMERA_VIEW = {"n_points": 4096, "noise_sigma": 0.003}
_FORMAT_VERSION = 1


class PairGenerationError(RuntimeError):
    """No pair meeting the requested constraints could be made from a mesh."""


# --- meshes ------------------------------------------------------------------


def mesh_library(split: str) -> list[str]:
    """Names of the meshes of a split (``'train'``, ``'val'`` or ``'test'``), for :func:`load_mesh`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; expected one of {SPLITS}")
    base = _SEED_BASE[split]
    names = [f"prim:{kind}:{base + i}" for kind in PRIMITIVE_KINDS for i in range(_N_PER_PRIMITIVE[split])]
    names += [f"prim:compound:{base + i}" for i in range(_N_COMPOUND[split])]
    names += [f"random_urdfs/{i:03d}" for i in _RANDOM_URDF_RANGES[split] if i not in _BROKEN_RANDOM_URDFS]
    if split == "test":
        names += list(NAMED_TEST_MESHES)
    return names


def load_mesh(name: str) -> Mesh:
    """The mesh called ``name`` (see :func:`mesh_library`), centred at the origin with a
    bounding-box diagonal of 1 (about 1 m across). Returns a fresh copy."""
    mesh = _load_normalized_mesh(name)
    return Mesh(mesh.vertices.copy(), mesh.faces.copy(), mesh.name)


@lru_cache(maxsize=4096)
def _load_normalized_mesh(name: str) -> Mesh:
    vertices, faces = _raw_mesh(name)
    return _normalized(vertices, faces, name)


def _raw_mesh(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "bunny_scan":
        mesh = stanford_bunny_scan()
        return mesh.vertices, mesh.faces
    if name in SAMPLE_MESHES:
        mesh = read_obj(pybullet_data_dir() / SAMPLE_MESHES[name])
        return mesh.vertices, mesh.faces
    if name.startswith("random_urdfs/"):
        index = name.split("/", 1)[1]
        mesh = read_obj(pybullet_data_dir() / "random_urdfs" / index / f"{index}.obj")
        return mesh.vertices, mesh.faces
    if name.startswith("prim:"):
        _, kind, seed = name.split(":")
        rng = np.random.default_rng([_kind_index(kind), int(seed)])
        part = _random_compound(rng) if kind == "compound" else _random_primitive(kind, rng)
        return np.asarray(part.vertices, dtype=np.float64), np.asarray(part.faces, dtype=np.int64)
    raise ValueError(f"unknown mesh '{name}'")


def _kind_index(kind: str) -> int:
    kinds = (*PRIMITIVE_KINDS, "compound")
    if kind not in kinds:
        raise ValueError(f"unknown primitive kind '{kind}'; expected one of {kinds}")
    return kinds.index(kind)


def _random_primitive(kind: str, rng: np.random.Generator) -> trimesh.Trimesh:
    if kind == "box":
        return trimesh.creation.box(extents=rng.uniform(0.2, 1.0, 3))
    if kind == "cylinder":
        return trimesh.creation.cylinder(radius=rng.uniform(0.1, 0.5), height=rng.uniform(0.2, 1.0), sections=32)
    if kind == "capsule":
        return trimesh.creation.capsule(radius=rng.uniform(0.1, 0.4), height=rng.uniform(0.2, 1.0), count=[12, 12])
    if kind == "cone":
        return trimesh.creation.cone(radius=rng.uniform(0.15, 0.5), height=rng.uniform(0.3, 1.0), sections=32)
    if kind == "torus":
        return trimesh.creation.torus(
            major_radius=rng.uniform(0.3, 0.5), minor_radius=rng.uniform(0.05, 0.2),
            major_sections=32, minor_sections=12)
    raise ValueError(f"unknown primitive kind '{kind}'")


def _random_compound(rng: np.random.Generator) -> trimesh.Trimesh:
    """2-4 randomly posed primitives, each centred on a vertex of an earlier one so the
    shape stays connected. Overlapping parts leave interior faces (the views ignore them,
    :func:`outer_surface_points` drops them)."""
    parts: list[trimesh.Trimesh] = []
    for _ in range(rng.integers(2, 5)):
        part = _random_primitive(str(rng.choice(("box", "cylinder", "capsule", "cone"))), rng)
        anchor = np.zeros(3)
        if parts:
            previous = parts[rng.integers(len(parts))]
            anchor = previous.vertices[rng.integers(len(previous.vertices))]
        part.apply_transform(make_transform(random_rotations(1, rng)[0], anchor))
        parts.append(part)
    return trimesh.util.concatenate(parts)


def _normalized(vertices: np.ndarray, faces: np.ndarray, name: str) -> Mesh:
    if not np.isfinite(vertices).all():
        raise ValueError(f"mesh '{name}' has non-finite vertex coordinates")
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    diagonal = np.linalg.norm(hi - lo)
    if diagonal <= 0:
        raise ValueError(f"mesh '{name}' is degenerate (zero extent)")
    return Mesh((vertices - (lo + hi) / 2) / diagonal, faces, name)


# --- sensing -----------------------------------------------------------------


def raycasting_scene(mesh: Mesh) -> o3d.t.geometry.RaycastingScene:
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(_triangle_mesh(mesh))
    return scene


def _triangle_mesh(mesh: Mesh) -> o3d.t.geometry.TriangleMesh:
    return o3d.t.geometry.TriangleMesh(
        o3d.core.Tensor(mesh.vertices.astype(np.float32)), o3d.core.Tensor(mesh.faces.astype(np.int32)))


def raycast_view(
    mesh: Mesh | o3d.t.geometry.RaycastingScene,
    camera_position,
    n_rays_side: int = 160,
    noise_sigma: float = 0.0,
    seed=None,
) -> np.ndarray:
    """``(N, 3)`` points a pinhole depth camera at ``camera_position`` sees of a normalised
    mesh (or a prebuilt scene of one), looking at the origin. The square field of view
    just contains the mesh's bounding sphere (radius 0.5). Only hits are returned, in the
    mesh frame; ``noise_sigma`` adds Gaussian depth noise along each ray, as a real
    depth sensor's error lies mostly along the ray."""
    eye = np.asarray(camera_position, dtype=np.float64)
    distance = np.linalg.norm(eye)
    if distance <= 0.5:
        raise ValueError(f"camera at distance {distance:.3f} is inside the object's bounding sphere (radius 0.5)")
    scene = raycasting_scene(mesh) if isinstance(mesh, Mesh) else mesh
    fov_deg = 2 * np.degrees(np.arcsin(0.5 / distance))
    rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
        fov_deg=fov_deg, center=[0.0, 0.0, 0.0], eye=eye.tolist(), up=_up_vector(eye).tolist(),
        width_px=n_rays_side, height_px=n_rays_side)
    rays = rays.numpy().reshape(-1, 6).astype(np.float64)
    t_hit = scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))["t_hit"].numpy().reshape(-1)
    hit = np.isfinite(t_hit)
    origins, directions = rays[hit, :3], rays[hit, 3:]
    points = origins + t_hit[hit, None] * directions
    if noise_sigma > 0:
        unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
        points += np.random.default_rng(seed).normal(0.0, noise_sigma, (len(points), 1)) * unit
    return points


def _up_vector(eye: np.ndarray) -> np.ndarray:
    """The world axis least aligned with the viewing direction (never parallel to it)."""
    up = np.zeros(3)
    up[np.argmin(np.abs(eye))] = 1.0
    return up


def outer_surface_points(mesh: Mesh, n: int, seed=None) -> np.ndarray:
    """``n`` points uniform over the outside of a mesh. Meshes made of overlapping closed
    parts (compound shapes, convex decompositions such as ``random_urdfs`` or 'teddy')
    have faces buried in other parts; points there are dropped."""
    rng = np.random.default_rng(seed)
    labels = part_labels(mesh)
    scene = _parts_scene(mesh, labels) if labels.max() > 0 else None
    kept: list[np.ndarray] = []
    count, tried, exterior_share = 0, 0, 1.0
    for _ in range(50):
        batch = int(1.1 * (n - count) / max(exterior_share, 0.05)) + 32
        candidates, normals = sample_surface(mesh, batch, rng)
        outside = candidates if scene is None else candidates[_not_buried(scene, candidates, normals, rng)]
        kept.append(outside)
        count, tried = count + len(outside), tried + batch
        exterior_share = count / tried
        if count >= n:
            return np.concatenate(kept)[:n]
    raise ValueError(f"mesh '{mesh.name}': could not find {n} points on its outer surface")


def part_labels(mesh: Mesh) -> np.ndarray:
    """Per face, the part it belongs to: faces joined through shared vertex indices. Parts
    are not merged by vertex position, as separate parts may touch at a vertex."""
    n = len(mesh.vertices)
    edges = np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, vertex_labels = connected_components(graph, directed=False)
    _, labels = np.unique(vertex_labels[mesh.faces[:, 0]], return_inverse=True)
    return labels.reshape(-1)


def _parts_scene(mesh: Mesh, labels: np.ndarray) -> o3d.t.geometry.RaycastingScene:
    # One geometry per part: Open3D counts a ray's hits at equal distance once within a
    # geometry, which would drop one of two coplanar faces of touching parts.
    scene = o3d.t.geometry.RaycastingScene()
    for part in range(int(labels.max()) + 1):
        scene.add_triangles(_triangle_mesh(Mesh(mesh.vertices, mesh.faces[labels == part])))
    return scene


def _not_buried(
    scene: o3d.t.geometry.RaycastingScene,
    points: np.ndarray,
    normals: np.ndarray,
    rng: np.random.Generator,
    step: float = 1e-4,
) -> np.ndarray:
    """Whether a surface point has free space on at least one side: points on faces
    inside another part, or on the touching faces of two parts (convex decompositions
    are cut along shared planes), have a part on both sides."""
    above = _inside_any_part(scene, points + step * normals, rng)
    below = _inside_any_part(scene, points - step * normals, rng)
    return ~(above & below)


def _inside_any_part(
    scene: o3d.t.geometry.RaycastingScene, points: np.ndarray, rng: np.random.Generator, n_rays: int = 3
) -> np.ndarray:
    # Inside a closed part a ray crosses its surface an odd number of times; a majority
    # of random rays decides, so one ray grazing an edge cannot.
    votes = np.zeros(len(points), dtype=int)
    for _ in range(n_rays):
        rays = np.hstack([points, rng.normal(size=points.shape)]).astype(np.float32)
        hits = scene.list_intersections(o3d.core.Tensor(rays))
        ray, part = (hits[k].numpy().astype(np.int64) for k in ("ray_ids", "geometry_ids"))
        n_parts = int(part.max()) + 1 if len(part) else 1
        keys, crossings = np.unique(ray * n_parts + part, return_counts=True)
        votes[np.unique(keys[crossings % 2 == 1] // n_parts)] += 1
    return 2 * votes > n_rays


# --- measures ----------------------------------------------------------------


def point_spacing(points: np.ndarray) -> float:
    """Median distance from a point to its nearest neighbour: the cloud's resolution."""
    distances, _ = cKDTree(points).query(points, k=2)
    return float(np.median(distances[:, 1]))


def overlap_ratio(source: np.ndarray, target: np.ndarray, transform: np.ndarray, radius: float | None = None) -> float:
    """Share of source points whose nearest target point, after mapping the source with
    ``transform``, lies within ``radius`` (default: 2 x the target's point spacing)."""
    radius = 2 * point_spacing(target) if radius is None else radius
    distances, _ = cKDTree(target).query(apply(transform, source))
    return float(np.mean(distances <= radius))


# --- pairs -------------------------------------------------------------------


def partial_pair(
    mesh_name: str,
    seed: int,
    overlap_range: tuple[float, float] = (0.3, 0.7),
    n_points: int = 2048,
    noise_sigma: float = 0.005,
    max_translation: float = 0.5,
    n_rays_side: int = 160,
    max_tries: int = 10,
    max_restarts: int = 8,
) -> RegistrationPair:
    """Two depth views of one object whose overlap (:func:`overlap_ratio`) lies in
    ``overlap_range``; the source then moved by a uniform random rotation and a
    translation uniform in ``[-max_translation, max_translation]^3``.

    The second camera is the first one turned about the object centre. Angles are tried
    by bisection from a random start (overlap falls as the angle grows) and the first
    that fits is kept; when none does, both cameras are drawn again."""
    low, high = overlap_range
    if not 0 <= low < high <= 1:
        raise ValueError(f"overlap_range must satisfy 0 <= low < high <= 1, got {overlap_range}")
    rng = np.random.default_rng(seed)
    mesh = load_mesh(mesh_name)
    scene = raycasting_scene(mesh)

    def view(camera):
        points = raycast_view(scene, camera, n_rays_side, noise_sigma, rng)
        return points[rng.permutation(len(points))[:n_points]]

    for _ in range(max_restarts):
        source_camera = _random_camera(rng)
        source = view(source_camera)
        if len(source) < _MIN_VIEW_POINTS:
            continue
        axis = _random_perpendicular(source_camera, rng)
        target_distance = rng.uniform(*_CAMERA_DISTANCE)
        lo_deg, hi_deg, angle = 0.0, 180.0, rng.uniform(10.0, 110.0)
        for _ in range(max_tries):
            target_camera = _turned(source_camera, axis, angle) * target_distance / np.linalg.norm(source_camera)
            target = view(target_camera)
            if len(target) >= _MIN_VIEW_POINTS:
                overlap = overlap_ratio(source, target, np.eye(4))
                if low <= overlap <= high:
                    info = {"kind": "partial", "mesh": mesh_name, "seed": int(seed), "view_angle_deg": float(angle),
                            "source_camera": source_camera.tolist(), "target_camera": target_camera.tolist()}
                    return _moved_source_pair(source, target, mesh_name, overlap, info, max_translation, rng)
                if overlap > high:
                    lo_deg = angle
                else:
                    hi_deg = angle
            else:
                hi_deg = angle  # target view too sparse: the object is seen edge-on, turn back
            angle = (lo_deg + hi_deg) / 2
    raise PairGenerationError(f"mesh '{mesh_name}', seed {seed}: no pair of views with overlap in {overlap_range}")


def rpmnet_pair(
    mesh_name: str,
    seed: int,
    n_points: int = 1024,
    keep: float = 0.7,
    noise_sigma: float = 0.01,
    noise_clip: float = 0.05,
    max_translation: float = 0.5,
) -> RegistrationPair:
    """The RPM-Net "crop" protocol with full SO(3) rotations: ``n_points`` outer-surface
    samples; source and target are each cropped by an independent random plane to the
    ``round(keep * n_points)`` points on one side, shuffled and jittered with Gaussian
    noise clipped to ``noise_clip``; the source is then rotated uniformly on SO(3) and
    shifted uniformly in ``[-max_translation, max_translation]^3``. (RPM-Net's objects
    span 2 units, ours 1, so the default noise is twice as large relative to the object.)"""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    rng = np.random.default_rng(seed)
    points = outer_surface_points(load_mesh(mesh_name), n_points, rng)
    source, target = (_jittered(_plane_crop(points, keep, rng), noise_sigma, noise_clip, rng) for _ in range(2))
    overlap = overlap_ratio(source, target, np.eye(4))
    info = {"kind": "rpmnet", "mesh": mesh_name, "seed": int(seed)}
    return _moved_source_pair(source, target, mesh_name, overlap, info, max_translation, rng)


def _moved_source_pair(source, target, name, overlap, info, max_translation, rng) -> RegistrationPair:
    motion = random_transforms(1, max_translation, rng)[0]
    return RegistrationPair(apply(motion, source), target, invert(motion), name, overlap, info)


def _random_camera(rng: np.random.Generator) -> np.ndarray:
    direction = rng.normal(size=3)
    return direction / np.linalg.norm(direction) * rng.uniform(*_CAMERA_DISTANCE)


def _random_perpendicular(vector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    v -= v @ vector / (vector @ vector) * vector
    return v / np.linalg.norm(v)


def _turned(vector: np.ndarray, unit_axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rodrigues rotation of ``vector`` about an axis perpendicular to it."""
    a = np.radians(angle_deg)
    return vector * np.cos(a) + np.cross(unit_axis, vector) * np.sin(a)


def _plane_crop(points: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    normal = rng.normal(size=3)
    height = (points - points.mean(axis=0)) @ (normal / np.linalg.norm(normal))
    kept = np.argsort(-height, kind="stable")[: round(keep * len(points))]
    return points[rng.permutation(kept)]  # shuffled: the crop order would reveal the plane


def _jittered(points: np.ndarray, sigma: float, clip: float, rng: np.random.Generator) -> np.ndarray:
    return points + np.clip(rng.normal(0.0, sigma, points.shape), -clip, clip)


def make_pairs(kind: str, split: str, n: int, seed: int, **kwargs) -> list[RegistrationPair]:
    """``n`` pairs of ``kind`` (``'partial'`` or ``'rpmnet'``) cycling through the split's
    meshes in an order shuffled by ``seed``; ``kwargs`` go to the pair function. A mesh
    that yields no valid pair (a thin plate whose views always overlap) is replaced by
    the next one in the order. The first ``k`` pairs do not depend on ``n``."""
    makers = {"partial": partial_pair, "rpmnet": rpmnet_pair}
    if kind not in makers:
        raise ValueError(f"unknown pair kind '{kind}'; expected one of {sorted(makers)}")
    names = mesh_library(split)
    order = [names[i] for i in np.random.default_rng([seed, len(names)]).permutation(len(names))]
    pair_seeds = np.random.SeedSequence(seed).generate_state(n, dtype=np.uint64) if n else []
    progress = tqdm(range(n), desc=f"{kind} pairs ({split})", disable=True if n <= 20 else None)
    return [_first_valid_pair(makers[kind], order, i, int(pair_seeds[i]), kwargs) for i in progress]


def _first_valid_pair(maker, order: list[str], start: int, seed: int, kwargs: dict) -> RegistrationPair:
    for k in range(len(order)):
        try:
            return maker(order[(start + k) % len(order)], seed, **kwargs)
        except PairGenerationError:
            continue
    raise PairGenerationError(f"no mesh of the split yields a valid pair with {kwargs}")


# --- storage -----------------------------------------------------------------


def save_pairs(path: str | Path, pairs: list[RegistrationPair]) -> Path:
    """All pairs in one ``.npz`` (no pickled objects), written atomically."""
    arrays = {"format_version": np.array(_FORMAT_VERSION)}
    for side in ("source", "target"):
        clouds = [np.asarray(getattr(p, side), dtype=np.float64).reshape(-1, 3) for p in pairs]
        arrays[f"{side}_points"] = np.concatenate(clouds) if clouds else np.zeros((0, 3))
        arrays[f"{side}_offsets"] = np.cumsum([0] + [len(c) for c in clouds]).astype(np.int64)
    arrays["transforms"] = np.array([p.transform for p in pairs], dtype=np.float64).reshape(-1, 4, 4)
    arrays["overlaps"] = np.array([p.overlap for p in pairs], dtype=np.float64)
    arrays["names"] = np.array([p.name for p in pairs], dtype=str)
    arrays["infos"] = np.array([json.dumps(p.info, default=_json_default) for p in pairs], dtype=str)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def load_pairs(path: str | Path) -> list[RegistrationPair]:
    with np.load(path, allow_pickle=False) as data:
        version = int(data["format_version"])
        if version != _FORMAT_VERSION:
            raise ValueError(f"{path}: pair file format {version}, this code reads {_FORMAT_VERSION}")
        source, target = _split_clouds(data, "source"), _split_clouds(data, "target")
        return [
            RegistrationPair(s, t, transform, str(name), float(overlap), json.loads(str(info)))
            for s, t, transform, name, overlap, info in zip(
                source, target, data["transforms"], data["names"], data["overlaps"], data["infos"], strict=True)
        ]


def _split_clouds(data, side: str) -> list[np.ndarray]:
    points, offsets = data[f"{side}_points"], data[f"{side}_offsets"]
    return [points[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def _json_default(value):
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"pair info value of type {type(value).__name__} is not JSON serialisable")
