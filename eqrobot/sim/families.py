"""Object families with a frame of their own: unseen instances of known classes, the setting of
ModelNet10-SO(3) (whose classes are aligned by hand: a chair's front is its front).

``<family>-NNN`` is instance NNN (000-999) of a family, built with trimesh from parameters drawn
from the name alone, so every machine builds the same instance. Each family's frame means the
same on every instance: z up, x towards the front (the mug's handle, the chair's seat edge away
from its back, the hammer's head, the lamp's arm), centred on its bounding box. None has a turn
that maps it onto itself, so an estimate's error is measured in a frame that the class, not a
convention, decides.
"""

from __future__ import annotations

import numpy as np
import trimesh
from trimesh.creation import box, cone, cylinder
from trimesh.transformations import rotation_matrix, translation_matrix

FAMILIES = ("mug", "chair", "hammer", "lamp")
INSTANCES = 1000


def is_instance(shape: str) -> bool:
    family, _, number = shape.rpartition("-")
    return family in FAMILIES and len(number) == 3 and number.isdigit()


def instances(family: str, first: int, last: int) -> tuple[str, ...]:
    """The names ``family-first`` .. ``family-last`` (inclusive)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    return tuple(f"{family}-{i:03d}" for i in range(max(first, 0), min(last, INSTANCES - 1) + 1))


def instance_mesh(shape: str) -> trimesh.Trimesh:
    """The instance's surface in its family's frame, centred on its bounding box."""
    if not is_instance(shape):
        raise ValueError(f"not a family instance: {shape!r} (they are <family>-000 .. <family>-999, "
                         f"family one of {', '.join(FAMILIES)})")
    family, _, number = shape.rpartition("-")
    rng = np.random.default_rng([FAMILIES.index(family), int(number)])
    mesh = trimesh.util.concatenate(BUILDERS[family](rng))
    mesh.apply_translation(-mesh.bounding_box.centroid)
    return mesh


def _at(mesh: trimesh.Trimesh, x: float, y: float, z: float) -> trimesh.Trimesh:
    return mesh.apply_transform(translation_matrix((x, y, z)))


def _along_x(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    return mesh.apply_transform(rotation_matrix(np.pi / 2, (0, 1, 0)))


def _mug(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    """A body on a wider foot, a handle on +x in the body's upper part."""
    radius, height = rng.uniform(0.35, 0.6), rng.uniform(0.7, 1.3)
    foot = rng.uniform(0.06, 0.12)
    grip, reach, bar = rng.uniform(0.4, 0.6) * height, rng.uniform(0.35, 0.55), rng.uniform(0.1, 0.14)
    top = height - rng.uniform(0.1, 0.2)
    return [_at(cylinder(radius, height, sections=48), 0, 0, height / 2 + foot),
            _at(cylinder(radius * 1.15, foot, sections=48), 0, 0, foot / 2),
            _at(box((reach, bar, bar)), radius + reach / 2 - bar, 0, top + foot),
            _at(box((reach, bar, bar)), radius + reach / 2 - bar, 0, top - grip + foot),
            _at(box((bar, bar, grip + bar)), radius + reach - bar * 1.5, 0, top - grip / 2 + foot)]


def _chair(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    """Four legs, a seat, a back along -x rising above the seat."""
    width, depth, seat = rng.uniform(0.8, 1.1), rng.uniform(0.8, 1.1), rng.uniform(0.7, 1.0)
    leg, thick, back = rng.uniform(0.06, 0.1), rng.uniform(0.06, 0.12), rng.uniform(0.6, 1.1)
    legs = [_at(box((leg, leg, seat)), sx * (depth - leg) / 2, sy * (width - leg) / 2, seat / 2)
            for sx in (-1, 1) for sy in (-1, 1)]
    return legs + [_at(box((depth, width, thick)), 0, 0, seat + thick / 2),
                   _at(box((thick, width, back)), -(depth - thick) / 2, 0, seat + thick + back / 2)]


def _hammer(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    """A handle along x; at its +x end a head with a round face up (+z) and a thin claw down."""
    length, grip = rng.uniform(1.6, 2.2), rng.uniform(0.06, 0.1)
    face, claw, width = rng.uniform(0.25, 0.4), rng.uniform(0.3, 0.5), rng.uniform(0.14, 0.2)
    end = length / 2
    return [_along_x(cylinder(grip, length, sections=24)),
            _at(box((width, width, face)), end - width / 2, 0, face / 2),
            _at(cylinder(width * 0.6, 0.08, sections=32), end - width / 2, 0, face + 0.04),
            _at(box((width * 0.5, width * 0.8, claw)), end - width / 2, 0, -claw / 2)]


def _lamp(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    """A round base, a post, an arm along +x and a shade hanging from its end."""
    base, post, arm = rng.uniform(0.35, 0.5), rng.uniform(1.0, 1.5), rng.uniform(0.6, 1.0)
    rod, shade = rng.uniform(0.04, 0.07), rng.uniform(0.2, 0.3)
    flip = rotation_matrix(np.pi, (1, 0, 0))
    return [_at(cylinder(base, 0.1, sections=48), 0, 0, 0.05),
            _at(cylinder(rod, post, sections=16), 0, 0, post / 2 + 0.1),
            _at(_along_x(cylinder(rod, arm, sections=16)), arm / 2, 0, post + 0.1),
            _at(cone(shade, shade * 1.4, sections=32).apply_transform(flip), arm, 0, post + 0.1)]


BUILDERS = {"mug": _mug, "chair": _chair, "hammer": _hammer, "lamp": _lamp}
