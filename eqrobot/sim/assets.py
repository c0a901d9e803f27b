"""Generated URDF assets for Ravens-style tabletop tasks (Zeng et al. 2020): blocks, the L block of
block-insertion and its fixture, zones, bowls, corner markers, containers, pallets, the
tower-of-Hanoi stand and disks, and the shapes and board of assembling-kits.

Each function fills in the URDF templates of ``sim/templates/`` (``string.Template``), writes the
URDF and the .obj meshes it needs (made with trimesh) into a cache folder and returns the URDF's
path; ``load`` puts one into a PyBullet world at a 4x4 pose.

Frames: metres, RGBA in [0, 1], z up. A body that can move (its function has a ``mass`` argument)
has its origin at its centroid, because PyBullet reports a body's pose at its centre of mass: so
``World.pose_of`` gives back the pose it was loaded at, and the physics still has the true centre
of mass. A static body has its origin at the centre of its bounding box, except the corner marker
(its corner), the kit board (the centre of its slab) and the L fixture (see ``l_fixture``). Mass 0
makes a body static.

Collision shapes are convex pieces only (boxes, cylinders, convex prisms): PyBullet replaces a
dynamic body's mesh by its convex hull, so concave bodies (bowl, fixture, disk, container) are
unions of convex pieces, with an exact mesh for what the cameras see where the boxes would show.
Mesh pieces get PyBullet's 1 mm collision margin on the outside, so kit shapes rest 1 mm high.

The cache (the ``cache_dir`` argument, else ``$EQROBOT_ASSET_CACHE``, else
``~/.cache/eqrobot/sim_assets``) is content addressed: a mesh is named by a hash of its bytes and a
URDF by a hash of its text (which names its meshes), so the same call finds the same file, while a
change of parameter, template or code makes a new file instead of reusing a stale one. Files are
written under a temporary name and renamed, so a concurrent reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template

import numpy as np
import pybullet as p
import trimesh

from eqrobot.geometry.rotations import matrix_to_quat
from eqrobot.resources import share_file

# The Ravens palette (Tableau colours), so generated scenes look like the benchmark's.
COLORS = {
    "blue": (78 / 255, 121 / 255, 167 / 255, 1.0),
    "red": (255 / 255, 87 / 255, 89 / 255, 1.0),
    "green": (89 / 255, 169 / 255, 79 / 255, 1.0),
    "orange": (242 / 255, 142 / 255, 43 / 255, 1.0),
    "yellow": (237 / 255, 201 / 255, 72 / 255, 1.0),
    "purple": (176 / 255, 122 / 255, 161 / 255, 1.0),
    "pink": (255 / 255, 157 / 255, 167 / 255, 1.0),
    "cyan": (118 / 255, 183 / 255, 178 / 255, 1.0),
    "brown": (156 / 255, 117 / 255, 95 / 255, 1.0),
    "gray": (186 / 255, 176 / 255, 172 / 255, 1.0),
}
# Kit slots only: outside the palette, so no task draws it as an object colour (Ravens has no dark grey).
DARK = (0.2, 0.2, 0.2, 1.0)

HANOI_DISK_RADII = (0.025, 0.0325, 0.04)  # smallest first; all fit between pegs 0.12 apart
HANOI_HOLE_RADIUS = 0.01
KIT_SHAPES = ("triangle", "square", "hexagon", "circle", "cross", "ell")

# The file's inertia, not PyBullet's bounding-box guess; true cylinders, not 1 mm-margined hulls.
_LOAD_FLAGS = p.URDF_USE_INERTIA_FROM_FILE | p.URDF_USE_IMPLICIT_CYLINDER
_RING_PIECES = 12  # boxes in a ring: a 12-gon hole is round enough for a peg to slide in


# --- Public API -------------------------------------------------------------------------------


def box(size=(0.04, 0.04, 0.04), rgba=COLORS["red"], mass: float = 0.1, cache_dir=None) -> Path:
    """A box (block) of edge lengths ``size``."""
    body = _Body("box", rgba, mass, movable=True)
    body.add_box(size)
    return body.write(cache_dir)


def l_block(arm_length: float = 0.1, arm_width: float = 0.04, height: float = 0.04, rgba=COLORS["red"],
            mass: float = 0.1, cache_dir=None) -> Path:
    """The block-insertion L in an ``arm_length`` square footprint: one arm along x on the -y
    side, one along y on the -x side, both ``arm_width`` wide."""
    body = _Body("l_block", rgba, mass, movable=True)
    for rectangle in _ell_rectangles(arm_length, arm_width):
        body.add_rectangle(rectangle, height)
    return body.write(cache_dir)


def l_fixture(clearance: float = 0.005, arm_length: float = 0.1, arm_width: float = 0.04, height: float = 0.04,
              wall: float = 0.02, rgba=COLORS["gray"], cache_dir=None) -> Path:
    """A static block, ``height`` tall, with an L-shaped through slot (the table is its floor) that
    ``l_block`` with the same arms fits into with ``clearance`` on every side. Its origin is at the
    seated block's origin in x and y and half its height in z: load the block with the fixture's
    x, y and yaw and it drops straight in."""
    (x0, x1, y0, bend_y), (_, bend_x, _, y1) = _ell_rectangles(arm_length, arm_width, grow=clearance)
    out_x0, out_x1, out_y0, out_y1 = x0 - wall, x1 + wall, y0 - wall, y1 + wall
    body = _Body("l_fixture", rgba)
    for rectangle in ((out_x0, out_x1, out_y0, y0), (out_x0, out_x1, y1, out_y1),  # four walls around the slot
                      (out_x0, x0, y0, y1), (x1, out_x1, y0, y1),
                      (bend_x, x1, bend_y, y1)):  # and the block inside the bend of the L
        body.add_rectangle(rectangle, height)
    return body.write(cache_dir)


def zone(size=(0.12, 0.12, 0.001), rgba=COLORS["green"], cache_dir=None) -> Path:
    """A flat square marker (static, visual only: objects slide over it without catching an edge)."""
    body = _Body("zone", rgba)
    body.add_box(size, collision=False)
    return body.write(cache_dir)


def bowl(radius: float = 0.06, height: float = 0.03, wall: float = 0.004, rgba=COLORS["green"],
         mass: float = 0.05, cache_dir=None) -> Path:
    """An open round bowl: a flat floor and a straight wall, ``wall`` thick; mass 0 makes it static."""
    floor_z, wall_z = wall / 2, (height + wall) / 2  # measured from the bottom, before centring
    shell = trimesh.util.concatenate([
        trimesh.creation.cylinder(radius, wall, sections=48, transform=_translation(0, 0, floor_z)),
        trimesh.creation.annulus(radius - wall, radius, height - wall, sections=48,
                                 transform=_translation(0, 0, wall_z)),
    ])
    body = _Body("bowl", rgba, mass, movable=True)
    body.add_mesh(shell, collision=False)
    # A floor of boxes, not a cylinder: a block set down on a cylinder (a convex-convex contact)
    # skates a centimetre across it, on boxes it stays put.
    square = 0.6 * radius  # half the side of the middle square; its corners stay inside the circle
    body.add_box((2 * square, 2 * square, wall), (0, 0, floor_z), visual=False)
    body.add_ring(square, radius, wall, floor_z, pieces=_RING_PIECES)
    body.add_ring(radius - wall, radius, height - wall, wall_z, pieces=2 * _RING_PIECES)
    return body.write(cache_dir, solid=shell)


def corner(arm_length: float = 0.1, width: float = 0.005, thickness: float = 0.001, rgba=COLORS["green"],
           cache_dir=None) -> Path:
    """A flat L-shaped marker (static, visual only) outlining from outside the corner at its
    origin: a box in the +x +y quadrant with a corner at the origin lies against both strips."""
    body = _Body("corner", rgba)
    for rectangle in ((-width, arm_length, -width, 0.0), (-width, 0.0, 0.0, arm_length)):
        body.add_rectangle(rectangle, thickness, collision=False)
    return body.write(cache_dir)


def container(inner_size=(0.2, 0.2, 0.06), wall: float = 0.005, rgba=COLORS["brown"], mass: float = 0.0,
              cache_dir=None) -> Path:
    """An open-top box of inside size ``inner_size``: a floor and four walls ``wall`` thick."""
    ix, iy, iz = _positive(inner_size, "inner_size")
    ox, oy = ix + 2 * wall, iy + 2 * wall
    body = _Body("container", rgba, mass, movable=True)
    body.add_box((ox, oy, wall), (0, 0, wall / 2))  # z measured from the bottom, before centring
    for side in (-1, 1):  # the x walls run the full length, the y walls fit between them
        body.add_box((ox, wall, iz), (0, side * (iy + wall) / 2, wall + iz / 2))
        body.add_box((wall, iy, iz), (side * (ix + wall) / 2, 0, wall + iz / 2))
    return body.write(cache_dir)


def pallet(size=(0.3, 0.25, 0.015), rgba=COLORS["brown"], cache_dir=None) -> Path:
    """A static flat slab to stack boxes on (palletizing)."""
    body = _Body("pallet", rgba)
    body.add_box(size)
    return body.write(cache_dir)


def hanoi_base(peg_spacing: float = 0.12, base_thickness: float = 0.01, peg_height: float = 0.06,
               peg_radius: float = 0.006, rgba=COLORS["gray"], cache_dir=None) -> Path:
    """The static tower-of-Hanoi stand: a slab ``peg_spacing`` x ``3 * peg_spacing`` with three
    pegs on it at y = -peg_spacing, 0, +peg_spacing (x = 0) of the body frame. The origin being
    the centre of the bounding box, the slab's bottom is ``(base_thickness + peg_height) / 2``
    below it."""
    total = base_thickness + peg_height
    body = _Body("hanoi_base", rgba)
    body.add_box((peg_spacing, 3 * peg_spacing, base_thickness), (0, 0, (base_thickness - total) / 2))
    for y in (-peg_spacing, 0.0, peg_spacing):
        body.add_cylinder(peg_radius, peg_height, (0, y, (total - peg_height) / 2))
    return body.write(cache_dir)


def hanoi_disk(level: int, thickness: float = 0.015, rgba=None, mass: float = 0.02, cache_dir=None) -> Path:
    """Disk ``level`` (0: smallest, 2: largest; radii ``HANOI_DISK_RADII``) with a centre hole of
    radius ``HANOI_HOLE_RADIUS`` that slides over the stand's pegs."""
    if level not in range(len(HANOI_DISK_RADII)):
        raise ValueError(f"level must be 0, 1 or 2, got {level}")
    rgba = (COLORS["red"], COLORS["yellow"], COLORS["blue"])[level] if rgba is None else rgba
    ring = trimesh.creation.annulus(HANOI_HOLE_RADIUS, HANOI_DISK_RADII[level], thickness, sections=64)
    body = _Body("hanoi_disk", rgba, mass, movable=True)
    body.add_mesh(ring, collision=False)
    body.add_ring(HANOI_HOLE_RADIUS, HANOI_DISK_RADII[level], thickness, 0.0, pieces=_RING_PIECES)
    return body.write(cache_dir, solid=ring)


def kit_shape(shape: str, size: float = 0.05, height: float = 0.02, rgba=COLORS["blue"], mass: float = 0.05,
              cache_dir=None) -> Path:
    """An assembling-kits piece: a prism of one of ``KIT_SHAPES`` fitting a ``size`` square."""
    body = _Body(f"kit_{shape}", rgba, mass, movable=True)
    for prism in _kit_prisms(shape, size, height):
        body.add_mesh(prism)
    return body.write(cache_dir)


def kit_board(slots, size=(0.28, 0.2, 0.01), shape_size: float = 0.05, margin: float = 0.002,
              rgba=COLORS["gray"], hole_rgba=DARK, cache_dir=None) -> Path:
    """A static board (slab) showing where kit pieces go: ``slots`` is a sequence of
    ``(shape, x, y, yaw)``, the pose in the board frame of ``kit_shape(shape, shape_size)`` put in
    place, each drawn on the slab's top as a flat copy of that shape, ``shape_size + 2 * margin``
    across."""
    thickness = _positive(size, "size")[2]
    body = _Body("kit_board", rgba)
    body.add_box(size)
    for shape, x, y, yaw in slots:
        for prism in _kit_prisms(shape, shape_size + 2 * margin, 0.001):
            # Sunk halfway into the slab: it shows on the top without a step to catch on.
            body.add_mesh(prism, (x, y, thickness / 2), yaw, rgba=hole_rgba, collision=False)
    return body.write(cache_dir)


def load(world_client: int, urdf_path, pose_4x4, fixed: bool = False) -> int:
    """Load ``urdf_path`` into the PyBullet client ``world_client`` with its origin at ``pose_4x4``;
    returns the body id."""
    pose = np.asarray(pose_4x4, dtype=np.float64)
    return p.loadURDF(str(urdf_path), pose[:3, 3].tolist(), matrix_to_quat(pose[:3, :3]).tolist(),
                      useFixedBase=fixed, flags=_LOAD_FLAGS, physicsClientId=world_client)


# --- Building one link --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    geometry: str  # the filled-in content of a URDF <geometry> element
    xyz: tuple
    yaw: float
    rgba: tuple | None  # None: the body's colour
    visual: bool
    collision: bool


@dataclass
class _Body:
    """One rigid link under construction: its pieces, the solids its mass is spread over (in the
    frame the pieces were given in) and the mesh files the pieces refer to."""

    name: str
    rgba: tuple
    mass: float = 0.0
    movable: bool = False  # origin moved to the centroid when written
    lateral_friction: float = 0.5
    pieces: list[_Piece] = field(default_factory=list)
    solids: list[trimesh.Trimesh] = field(default_factory=list)
    meshes: dict[str, bytes] = field(default_factory=dict)

    def add_box(self, size, xyz=(0.0, 0.0, 0.0), yaw: float = 0.0, **kind) -> None:
        size = _positive(size, "size")
        solid = trimesh.creation.box(size, transform=_pose(xyz, yaw))
        self._add(_fill("box.xml", size=_numbers(size)), xyz, yaw, solid, **kind)

    def add_rectangle(self, rectangle, height: float, **kind) -> None:
        """A box over ``(x_min, x_max, y_min, y_max)``, ``height`` tall, centred on z = 0."""
        x0, x1, y0, y1 = rectangle
        self.add_box((x1 - x0, y1 - y0, height), ((x0 + x1) / 2, (y0 + y1) / 2, 0.0), **kind)

    def add_cylinder(self, radius: float, length: float, xyz=(0.0, 0.0, 0.0), **kind) -> None:
        solid = trimesh.creation.cylinder(radius, length, sections=32, transform=_pose(xyz, 0.0))
        self._add(_fill("cylinder.xml", radius=_number(radius), length=_number(length)), xyz, 0.0, solid, **kind)

    def add_mesh(self, mesh: trimesh.Trimesh, xyz=(0.0, 0.0, 0.0), yaw: float = 0.0, **kind) -> None:
        data = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_color=False,
                                               include_texture=False, header=None).encode()
        filename = f"mesh_{_digest(data)}.obj"
        self.meshes[filename] = data
        solid = mesh.copy().apply_transform(_pose(xyz, yaw))
        self._add(_fill("mesh.xml", filename=filename), xyz, yaw, solid, **kind)

    def add_ring(self, inner: float, outer: float, height: float, z: float, pieces: int) -> None:
        """Collision boxes filling the ring from ``inner`` to ``outer``, their flat inner faces on
        the circle ``inner``; they overlap, so the body's solid must be given to ``write``."""
        tangential = 2 * outer * np.tan(np.pi / pieces)
        for angle in np.arange(pieces) * 2 * np.pi / pieces:
            centre = (inner + outer) / 2 * np.array([np.cos(angle), np.sin(angle)])
            self.add_box((outer - inner, tangential, height), (*centre, z), angle, visual=False)

    def _add(self, geometry: str, xyz, yaw: float, solid: trimesh.Trimesh, rgba=None, visual: bool = True,
             collision: bool = True) -> None:
        self.pieces.append(_Piece(geometry, tuple(xyz), float(yaw), rgba, visual, collision))
        if collision:
            self.solids.append(solid)

    def write(self, cache_dir=None, solid: trimesh.Trimesh | None = None) -> Path:
        """Write the URDF into the cache, its meshes first so that a URDF on disk always finds
        them; ``solid`` is the body's volume where its collision pieces overlap."""
        if solid is None and self.solids:
            solid = trimesh.util.concatenate(self.solids)
        # Rounded so that float noise in a centroid that is 0 by symmetry does not change the file.
        shift = -np.round(solid.center_mass, 9) if self.movable and solid is not None else np.zeros(3)
        pieces = "\n".join(self._element(piece, shift) for piece in self.pieces)
        urdf = _fill("body.urdf", name=self.name, pieces=pieces,
                     lateral_friction=_number(self.lateral_friction), **_inertia(solid, self.mass, self.movable))
        folder = _cache_folder(cache_dir)
        for filename, data in self.meshes.items():
            _publish(folder / filename, data)
        data = urdf.encode()
        return _publish(folder / f"{self.name}_{_digest(data)}.urdf", data)

    def _element(self, piece: _Piece, shift: np.ndarray) -> str:
        """The <visual> and/or <collision> elements of ``piece``, moved by ``shift``."""
        origin = {"xyz": _numbers(np.add(piece.xyz, shift)), "rpy": _numbers((0.0, 0.0, piece.yaw)),
                  "geometry": piece.geometry}
        elements = []
        if piece.visual:
            rgba = self.rgba if piece.rgba is None else piece.rgba
            # Named by colour: PyBullet keys materials by name, so two colours must not share one.
            material = "rgba_" + _numbers(rgba).replace(" ", "_")
            elements.append(_fill("visual.xml", material=material, rgba=_numbers(rgba), **origin))
        if piece.collision:
            elements.append(_fill("collision.xml", **origin))
        return "\n".join(elements)


def _inertia(solid: trimesh.Trimesh | None, mass: float, movable: bool) -> dict[str, str]:
    """Template values for ``mass`` spread evenly over ``solid``: the diagonal of its inertia
    tensor about its centroid (the template says why there are no products of inertia)."""
    if mass < 0 or (mass > 0 and (solid is None or not movable)):
        raise ValueError(f"mass must be >= 0, and 0 for a static body or one without collision pieces; got {mass}")
    diagonal = np.zeros(3) if mass == 0 else np.diag(solid.moment_inertia) * (mass / solid.volume)  # density 1
    return {"mass": _number(mass), "ixx": _number(diagonal[0]), "iyy": _number(diagonal[1]),
            "izz": _number(diagonal[2])}


# --- Shapes ---------------------------------------------------------------------------------------


def _ell_rectangles(arm_length: float, arm_width: float, grow: float = 0.0) -> list[tuple]:
    """The L as two rectangles ``(x_min, x_max, y_min, y_max)`` about its centroid, each grown by
    ``grow`` on every side: the full arm along x, then the rest of the arm along y. They do not
    overlap, so their volumes add up to the body's."""
    half = arm_length / 2
    bend = -half + arm_width
    rectangles = np.array([(-half, half, -half, bend), (-half, bend, bend, half)])
    areas = (rectangles[:, 1] - rectangles[:, 0]) * (rectangles[:, 3] - rectangles[:, 2])
    centres = np.stack([rectangles[:, :2].mean(1), rectangles[:, 2:].mean(1)], axis=1)
    cx, cy = areas @ centres / areas.sum()
    grown = rectangles - [cx + grow, cx - grow, cy + grow, cy - grow]
    grown[1, 2] = grown[0, 3]  # the second starts where the first ends, still without overlap
    return [tuple(r) for r in grown]


def _kit_polygons(shape: str) -> list[np.ndarray]:
    """``shape`` as convex counter-clockwise polygons, which tile it, in the unit square about 0."""
    def regular(corners: int) -> np.ndarray:
        angles = np.arange(corners) * 2 * np.pi / corners
        return 0.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def rectangle(x0, x1, y0, y1) -> np.ndarray:
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)

    sixth = 1 / 6
    polygons = {
        "triangle": lambda: [np.array([[-0.5, -0.433], [0.5, -0.433], [0.0, 0.433]])],
        "square": lambda: [rectangle(-0.5, 0.5, -0.5, 0.5)],
        "hexagon": lambda: [regular(6)],
        "circle": lambda: [regular(48)],
        "cross": lambda: [rectangle(-sixth, sixth, -0.5, 0.5), rectangle(-0.5, -sixth, -sixth, sixth),
                          rectangle(sixth, 0.5, -sixth, sixth)],
        "ell": lambda: [rectangle(*r) for r in _ell_rectangles(1.0, 0.4)],
    }
    if shape not in polygons:
        raise ValueError(f"unknown kit shape {shape!r}; known: {', '.join(KIT_SHAPES)}")
    return polygons[shape]()


def _kit_prisms(shape: str, size: float, height: float) -> list[trimesh.Trimesh]:
    """The convex prisms, ``height`` tall, that make up kit ``shape``, about its centroid."""
    prisms = []
    for polygon in _kit_polygons(shape):
        fan = [[0, i, i + 1] for i in range(1, len(polygon) - 1)]  # a convex polygon needs no shapely
        prisms.append(trimesh.creation.extrude_triangulation(size * polygon, fan, height))
    centroid = np.round(trimesh.util.concatenate(prisms).center_mass, 9)
    return [prism.apply_translation(-centroid) for prism in prisms]


# --- Templates, numbers, files -------------------------------------------------------------------


@cache
def _template(name: str) -> Template:
    return Template(share_file(f"sim/templates/{name}").read_text())


def _fill(template: str, **values) -> str:
    return _template(template).substitute(values).strip("\n")


def _number(value) -> str:
    return f"{float(value) + 0.0:.8g}"  # + 0.0 turns -0.0 into 0.0, so equal bodies hash equal


def _numbers(values) -> str:
    return " ".join(_number(v) for v in np.ravel(values))


def _positive(values, name: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in values)
    if len(values) != 3 or min(values) <= 0:
        raise ValueError(f"{name} must be three positive lengths, got {values}")
    return values


def _pose(xyz, yaw: float) -> np.ndarray:
    T = _translation(*xyz)
    c, s = np.cos(yaw), np.sin(yaw)
    T[:2, :2] = [[c, -s], [s, c]]
    return T


def _translation(x: float, y: float, z: float) -> np.ndarray:
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _cache_folder(cache_dir=None) -> Path:
    default = Path.home() / ".cache" / "eqrobot" / "sim_assets"
    folder = Path(cache_dir or os.environ.get("EQROBOT_ASSET_CACHE") or default).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _publish(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` unless it is there: the name is the content's hash, so a file
    already there holds these bytes."""
    if path.exists():
        return path
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(temporary, path)  # atomic: readers see no file or the whole file
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path
