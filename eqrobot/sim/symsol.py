"""SYMSOL-I-style scenes (after Murphy et al. 2021): one symmetric solid (tetrahedron, cube,
icosahedron, cone, cylinder) in front of a fixed camera at a given orientation, rendered by
PyBullet's CPU renderer into RGB and metric depth, and the solid's symmetry group, so that
every orientation that looks the same is known. Asymmetric objects from pybullet_data (the
duck, the teddy bear, ``object-NNN`` for random_urdfs/NNN, in its principal frame) render the
same way, with the identity as their only symmetry, for tests on unseen instances
(ModelNet10-SO(3)-style), instances of object families in their class's frame
(``families``: ``mug-NNN``, ``chair-NNN``, ...) and any mesh file named by its path
(``MESH_SUFFIXES``): the user's own part, in its file's frame, to train a model for it.
SYMSOL-II-style marked solids break part of the symmetry: ``tetX`` (a tetrahedron with one
face marked), ``cylO`` (a cylinder with a dot on its side), ``sphX`` (a sphere with a dot);
which orientations look the same then depends on whether the mark is in view
(``equivalents``).

Frames: ``rotation`` is the solid's orientation in the camera's optical frame (x right, y down,
z forward, the ROS convention): turning the image in its plane is a rotation about z. The
solid's centre (its centroid; for the cone, the centroid of its volume) sits on the optical
axis ``DISTANCE`` metres ahead. Two orientations R and R @ S, S in ``symmetries(shape)``,
give the same image; ``equivalents(shape, R)`` lists every orientation that gives R's image.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pybullet as p
import pybullet_data
import trimesh

from eqrobot.geometry.rotations import matrix_to_quat
from eqrobot.sim import families
from eqrobot.sim.world import ClientOwner

SHAPES = ("tet", "cube", "icosa", "cone", "cyl")
MARKED = {"tetX": "tet", "cylO": "cyl", "sphX": "sph"}  # SYMSOL-II-style: marked solid -> the solid
MARK_COLOR = (0.15, 0.35, 0.8, 1.0)
SPHERE_HIDDEN_SAMPLES = 2  # SO3Grid level whose cells stand for a sphere's orientations with its dot out of view
OBJECT_FILES = {"duck": "duck.obj", "teddy": "teddy2_VHACD_CHs.obj"}  # plus object-NNN: random_urdfs/NNN
RANDOM_OBJECTS = 1000
MESH_SUFFIXES = (".obj", ".stl", ".ply", ".off", ".glb", ".gltf")  # a shape named by a mesh file's path
EMPTY_OBJECTS = {168}  # random_urdfs/168/168.obj holds no faces
RADIUS = 1.5  # metres from an object's centre (pybullet_data) to its farthest point: fills most of the view
DISTANCE = 5.0  # metres from the camera to the solid's centre: every solid stays inside the view
FIELD_OF_VIEW = 40.0  # degrees, vertical and horizontal
CONTINUOUS_SAMPLES = 360  # turns about the axis that stand for a cone's or cylinder's continuous symmetry
COLOR = (0.8, 0.5, 0.3, 1.0)
AMBIENT = 0.25  # the rest is diffuse: faces at different tilts differ by tens of grey levels
LIGHT = (0.0, 0.0, -1.0)  # towards the light (camera frame): a headlight, so an in-plane turn turns the image


def known(shape: str) -> bool:
    """Whether ``shape`` names a solid or an object this module can render."""
    if shape in SHAPES or shape in OBJECT_FILES or shape in MARKED or mesh_file(shape) or families.is_instance(shape):
        return True
    number = shape.removeprefix("object-")
    return (shape.startswith("object-") and number.isdigit() and len(number) == 3 and int(number) < RANDOM_OBJECTS
            and int(number) not in EMPTY_OBJECTS)


def mesh_file(shape: str) -> bool:
    """Whether ``shape`` is the path of a mesh file (one of ``MESH_SUFFIXES``) that exists."""
    return shape.lower().endswith(MESH_SUFFIXES) and Path(shape).is_file()


def random_objects(first: int, last: int) -> tuple[str, ...]:
    """The renderable ``object-NNN`` names for NNN in ``first..last`` (inclusive)."""
    return tuple(f"object-{i:03d}" for i in range(first, last + 1) if known(f"object-{i:03d}"))


@cache
def solid(shape: str) -> trimesh.Trimesh:
    """The solid, about 1.6 m across, centred on its centroid, its faces unmerged (flat shading;
    the sphere keeps smooth normals)."""
    if shape in MARKED:
        return solid(MARKED[shape])
    if shape == "sph":
        return trimesh.creation.icosphere(subdivisions=4, radius=0.8)
    if shape not in SHAPES:
        return _object(shape)
    makers = {
        "tet": lambda: trimesh.Trimesh(np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float) / 1.2,
                                       [[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]]),
        "cube": lambda: trimesh.creation.box((1.2, 1.2, 1.2)),
        "icosa": lambda: trimesh.creation.icosahedron().apply_scale(0.9),
        "cone": lambda: trimesh.creation.cone(0.7, 1.6, sections=64),
        "cyl": lambda: trimesh.creation.cylinder(0.6, 1.4, sections=64),
    }
    if shape not in makers:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    mesh = makers[shape]()
    mesh.fix_normals()
    mesh.apply_translation(-mesh.center_mass)
    mesh.unmerge_vertices()
    return mesh


@cache
def symmetries(shape: str) -> np.ndarray:
    """(K, 3, 3) the rotations that map the solid onto itself (identity first): 12, 24 and 60
    for the tetrahedron, cube and icosahedron; ``CONTINUOUS_SAMPLES`` turns about the axis for
    the cone, twice that for the cylinder (which may also be turned upside down)."""
    if shape not in SHAPES:
        solid(shape)  # a clear error for an unknown name
        return np.eye(3)[None]
    if shape in ("cone", "cyl"):
        turns = np.array([_about_z(a) for a in np.arange(CONTINUOUS_SAMPLES) * 2 * math.pi / CONTINUOUS_SAMPLES])
        if shape == "cone":
            return turns
        flip = np.diag([1.0, -1.0, -1.0])  # half a turn about x
        return np.concatenate([turns, turns @ flip])
    return _polyhedron_symmetries(np.unique(np.round(solid(shape).vertices, 9), axis=0))


def equivalents(shape: str, rotation: np.ndarray) -> np.ndarray:
    """(K, 3, 3) every orientation whose image is the image of ``rotation`` (``rotation`` first)."""
    rotation = np.asarray(rotation, dtype=np.float64)
    if shape not in MARKED:
        return rotation @ symmetries(shape)
    centre, normal, _ = mark(shape)
    if _in_view(rotation, centre, normal):
        if shape == "sphX":  # the dot's own axis is free: turns about it
            return rotation @ np.array([_about_x(a) for a in np.arange(CONTINUOUS_SAMPLES) * 2 * math.pi
                                        / CONTINUOUS_SAMPLES])
        candidates = rotation @ symmetries(MARKED[shape])
        # the mark must land where it is: within a tenth of its radius (the cylinder's turns are 1 deg apart)
        return candidates[np.linalg.norm(candidates @ centre - rotation @ centre, axis=1) < 0.02]
    if shape == "sphX":
        from eqrobot.geometry.grids import SO3Grid

        candidates = SO3Grid(SPHERE_HIDDEN_SAMPLES).rotations.astype(np.float64)
        return np.concatenate([rotation[None], candidates[~_in_view(candidates, centre, normal)]])
    candidates = rotation @ symmetries(MARKED[shape])
    return candidates[~_in_view(candidates, centre, normal)]


@cache
def mark(shape: str) -> tuple[np.ndarray, np.ndarray, trimesh.Trimesh]:
    """(centre, outward normal, mesh) of a marked solid's mark, in the solid's frame."""
    if shape == "tetX":
        face = solid("tet").triangles[0]
        centre = face.mean(axis=0)
        normal = np.cross(face[1] - face[0], face[2] - face[0])
        normal /= np.linalg.norm(normal)
        triangle = centre + 0.55 * (face - centre) + 0.01 * normal
        return centre, normal, trimesh.Trimesh(triangle, [[0, 1, 2]])
    if shape in ("cylO", "sphX"):
        radius = 0.6 if shape == "cylO" else 0.8
        dot = trimesh.creation.cylinder(0.14, 0.02, sections=32)
        dot.apply_transform(trimesh.transformations.rotation_matrix(math.pi / 2, [0, 1, 0]))
        dot.apply_translation([radius, 0, 0])
        return np.array([radius, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]), dot
    raise ValueError(f"{shape!r} has no mark; marked solids: {', '.join(MARKED)}")


def _in_view(rotations: np.ndarray, centre: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Whether a point of a convex solid's surface faces the camera (at the origin, looking along
    +z), for each of ``rotations (..., 3, 3)``."""
    facing = rotations @ normal
    return np.einsum("...i,...i->...", facing, rotations @ centre + np.array([0.0, 0.0, DISTANCE])) < 0


class SymsolCamera(ClientOwner):
    """A PyBullet client holding one solid at a time in front of the camera."""

    def __init__(self, size: int = 128) -> None:
        if size < 16:
            raise ValueError(f"images need at least 16 pixels a side, got {size}")
        self.size = size
        self.client = p.connect(p.DIRECT)
        self._bodies: dict[str, list[int]] = {}
        self._shown: str | None = None
        # PyBullet's camera looks along -z of its view frame; the optical frame's z points forward
        self._view = p.computeViewMatrix([0, 0, 0], [0, 0, DISTANCE], [0, -1, 0])
        self._projection = p.computeProjectionMatrixFOV(FIELD_OF_VIEW, 1.0, DISTANCE - 2, DISTANCE + 2)

    def render(self, shape: str, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rgb (size, size, 3) uint8, depth (size, size) float32 metres, 0 where empty)."""
        bodies = self._body(shape)
        if shape != self._shown:  # one solid in view: hide the last one, show this one
            changes = ([(self._shown, False)] if self._shown else []) + [(shape, True)]
            for name, shown in changes:
                for body, color in zip(self._bodies.get(name, ()), _colors(name), strict=True):
                    p.changeVisualShape(body, -1, rgbaColor=list(color) if shown else [0, 0, 0, 0],
                                        physicsClientId=self.client)
            self._shown = shape
        for body in bodies:
            p.resetBasePositionAndOrientation(body, [0, 0, DISTANCE], matrix_to_quat(np.asarray(rotation)).tolist(),
                                              physicsClientId=self.client)
        near, far = DISTANCE - 2, DISTANCE + 2
        _, _, rgba, buffer, _ = p.getCameraImage(self.size, self.size, self._view, self._projection, shadow=0,
                                                 lightDirection=list(LIGHT), lightAmbientCoeff=AMBIENT,
                                                 lightDiffuseCoeff=1 - AMBIENT, lightSpecularCoeff=0.0,
                                                 renderer=p.ER_TINY_RENDERER,
                                                 physicsClientId=self.client)
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(self.size, self.size, 4)[..., :3].copy()
        buffer = np.asarray(buffer, dtype=np.float64).reshape(self.size, self.size)
        depth = far * near / (far - (far - near) * buffer)
        depth[buffer >= 1.0] = 0.0
        return rgb, depth.astype(np.float32)

    def intrinsics(self) -> np.ndarray:
        """3x3 pinhole matrix of the rendered images (pixels)."""
        f = self.size / 2 / math.tan(math.radians(FIELD_OF_VIEW) / 2)
        return np.array([[f, 0, self.size / 2], [0, f, self.size / 2], [0, 0, 1]])

    def _body(self, shape: str) -> list[int]:
        if shape not in self._bodies:
            parts = [solid(shape)] + ([mark(shape)[2]] if shape in MARKED else [])
            self._bodies[shape] = [self._mesh_body(mesh, color) for mesh, color in zip(parts, _colors(shape),
                                                                                        strict=True)]
        return self._bodies[shape]

    def _mesh_body(self, mesh: trimesh.Trimesh, color: tuple) -> int:
        visual = p.createVisualShape(p.GEOM_MESH, vertices=mesh.vertices.tolist(),
                                     indices=mesh.faces.ravel().tolist(), normals=mesh.vertex_normals.tolist(),
                                     rgbaColor=list(color), physicsClientId=self.client)
        return p.createMultiBody(baseMass=0, baseVisualShapeIndex=visual, basePosition=[0, 0, -100],
                                 physicsClientId=self.client)


def _colors(shape: str) -> tuple[tuple, ...]:
    return (COLOR, MARK_COLOR) if shape in MARKED else (COLOR,)


def _object(shape: str) -> trimesh.Trimesh:
    """An object from pybullet_data or a mesh file, scaled to ``RADIUS``, flat shaded.
    ``object-NNN`` is also turned into its principal frame, centred on its surface's centroid
    (``principal_frame``): the random_urdfs files' own frames are arbitrary, so no network could
    tell an unseen one's orientation in them. The duck, the teddy and mesh files keep their
    files' frames, centred on their bounding boxes."""
    if not known(shape):
        raise ValueError(f"shape must be one of {', '.join(SHAPES + tuple(OBJECT_FILES))}, object-000 .. "
                         f"object-{RANDOM_OBJECTS - 1:03d} (not {_empty_names()}), <family>-000 .. <family>-999 "
                         f"({', '.join(families.FAMILIES)}) or a mesh file "
                         f"({', '.join(MESH_SUFFIXES)}) that exists, got {shape!r}")
    if mesh_file(shape):
        return _scaled(_mesh_from_file(shape))
    if families.is_instance(shape):
        return _scaled(families.instance_mesh(shape))
    number = shape.removeprefix("object-")
    relative = OBJECT_FILES.get(shape) or f"random_urdfs/{number}/{number}.obj"
    mesh = trimesh.load(f"{pybullet_data.getDataPath()}/{relative}", force="mesh")
    if shape in OBJECT_FILES:
        mesh.apply_translation(-mesh.bounding_box.centroid)
    else:
        centre, frame = principal_frame(mesh)
        mesh.apply_translation(-centre)
        mesh.vertices = mesh.vertices @ frame
    return _scaled(mesh)


def _mesh_from_file(path: str) -> trimesh.Trimesh:
    try:
        mesh = trimesh.load(path, force="mesh")
    except Exception as e:  # trimesh raises many kinds for files it cannot read
        raise ValueError(f"{path}: not a readable mesh ({e})") from e
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{path}: the file holds no triangles")
    mesh.apply_translation(-mesh.bounding_box.centroid)
    return mesh


def _scaled(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    mesh.apply_scale(RADIUS / np.linalg.norm(mesh.vertices, axis=1).max())
    mesh.unmerge_vertices()
    return mesh


def principal_frame(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    """(centroid, frame) of the mesh's surface: the frame's columns are its principal axes,
    largest spread first, each pointing where the surface's third moment along it is positive
    (the longer tail), the last one completing a right-handed frame. An object whose surface is
    (nearly) symmetric has (nearly) tied spreads or moments: then the frame is a convention,
    which is why ``object_symmetries`` exists."""
    triangles = np.asarray(mesh.triangles, dtype=np.float64)
    area = np.asarray(mesh.area_faces, dtype=np.float64)
    centre = (area[:, None] * triangles.mean(axis=1)).sum(axis=0) / area.sum()
    v = triangles - centre
    total = v.sum(axis=1)
    # exact second moment of each triangle: A/12 (s s^T + a a^T + b b^T + c c^T), s = a + b + c
    moment = np.einsum("f,fi,fj->ij", area, total, total) + np.einsum("f,fki,fkj->ij", area, v, v)
    _, axes = np.linalg.eigh(moment / 12)
    axes = axes[:, ::-1]
    skew = (area[:, None] * (v.mean(axis=1) @ axes) ** 3).sum(axis=0)
    axes[:, :2] *= np.where(skew[:2] < 0, -1.0, 1.0)
    axes[:, 2] = np.cross(axes[:, 0], axes[:, 1])
    return centre, axes


def _empty_names() -> str:
    return ", ".join(f"object-{i:03d}" for i in sorted(EMPTY_OBJECTS))


def _about_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _about_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Orthonormal frame (columns) from two independent vectors."""
    x = a / np.linalg.norm(a)
    z = np.cross(a, b)
    z /= np.linalg.norm(z)
    return np.stack([x, np.cross(z, x), z], axis=1)


def _polyhedron_symmetries(vertices: np.ndarray) -> np.ndarray:
    """Rotations mapping the vertex set onto itself: those taking two fixed vertices to any two
    vertices at the same angle, kept when every vertex lands on a vertex."""
    a = vertices[0]
    b = next(v for v in vertices[1:] if np.linalg.norm(np.cross(a, v)) > 1e-6)
    angle = a @ b
    base = _frame(a, b)
    found = [np.eye(3)]
    for u in vertices:
        for v in vertices:
            if abs(u @ v - angle) > 1e-6 or np.linalg.norm(np.cross(u, v)) < 1e-6:
                continue
            rotation = _frame(u, v) @ base.T
            moved = vertices @ rotation.T
            if np.abs(moved[:, None] - vertices[None]).sum(-1).min(1).max() < 1e-6 and \
                    not any(np.allclose(rotation, r, atol=1e-6) for r in found):
                found.append(rotation)
    return np.array(found)
