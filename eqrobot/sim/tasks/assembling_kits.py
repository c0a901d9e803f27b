"""Assembling kits: put each of the five shapes lying on the table into the slot of its shape on the
kit board, turned like the slot (Ravens' assembling-kits).

As in Ravens, the static board lies at a random pose, its five slots at fixed places in its frame,
each turned at random; the pieces start at random poses. Pieces are drawn with replacement, so two
of one shape may each fill either's slot (``Goal.alike``), and a piece counts at any yaw its shape
looks the same at (``SYMMETRY``). Each piece in a slot of its shape earns a fifth of the reward.

Where it differs from Ravens: six shapes (``assets.KIT_SHAPES``) instead of twenty, and the same
six in train and test episodes. Ravens holds six of its twenty shapes out for test episodes; of six
shapes none can be held out and still leave a varied training set (and a task is given an ``rng``,
not the seed, so it could not tell even train seeds from odd test seeds). Eight actions, not ten.
"""

from __future__ import annotations

import numpy as np

from eqrobot.sim import assets
from eqrobot.sim.tasks.base import ANY_YAW, Goal, Task, planar_pose, random_free_poses

N_PIECES = 5
# Ravens' slots (x, y in the board frame): three along the back, two in front. Their centres are
# at least 9 cm apart, so pieces 5 cm across never touch, whatever their turn.
SLOTS = ((-0.09, 0.045), (0.0, 0.045), (0.09, 0.045), (-0.045, -0.045), (0.045, -0.045))
BOARD_SIZE = (0.28, 0.2, 0.01)  # as Ravens' kit, a little thicker: assets.kit_board's default
SHAPE_SIZE, SHAPE_HEIGHT = 0.05, 0.02  # assets.kit_shape's defaults: each shape fits a 5 cm square
# PyBullet's collision margin on the pieces' meshes: a piece rests this much above what it lies on.
MESH_MARGIN = 0.001
# Where the centre of a piece in a slot rests, above the board's origin (the middle of its slab).
SEAT_Z = BOARD_SIZE[2] / 2 + SHAPE_HEIGHT / 2 + MESH_MARGIN
COLOURS = ("purple", "blue", "green", "yellow", "red")  # one per slot's piece, as in Ravens
# The least turn about its centroid after which a shape looks the same (a shape's centroid is its
# body's origin). The "circle" is a 48-gon, the same every 7.5 deg: within the 15 deg tolerance at
# any yaw, so it takes any yaw (why ANY_YAW and not 2 pi / 48: see base.ANY_YAW). The ell is
# only the same under a full turn (its mirror symmetry is no turn).
SYMMETRY = {
    "triangle": 2 * np.pi / 3,
    "square": np.pi / 2,
    "hexagon": np.pi / 3,
    "circle": ANY_YAW,
    "cross": np.pi / 2,
    "ell": 2 * np.pi,
}
ELL_ARM_WIDTH = 0.4 * SHAPE_SIZE  # assets' ell: arms the width of 0.4 of its square
# Where the board's centre may be: every slot (at most 0.101 m from it) is 0.08 m inside the
# workspace, where pieces may start and the arm places well (nearer its base, x < 0.31 m, its tip
# misses by 1-3 cm), and so is the whole board (its half diagonal is 0.172 m).
MARGIN = 0.08
BOARD_MARGIN = MARGIN + 0.101
# Centre to centre at the start: a piece reaches at most 0.037 m from its centre (the ell's far
# corner), so pieces 0.09 apart leave a 1.6 cm gap; none starts on the board or against it.
PIECE_CLEARANCE = 0.09
BOARD_CLEARANCE = 0.172 + 0.037 + 0.01


def ell_corner() -> float:
    """x (= y) of the middle of the ell's corner square in the piece's frame (its centroid): the
    oracle picks there, where the suction cup lies on solid material. The centroid itself is
    0.6 mm from the inside edges of the corner, the cup half over the notch."""
    full, rest = SHAPE_SIZE * ELL_ARM_WIDTH, (SHAPE_SIZE - ELL_ARM_WIDTH) * ELL_ARM_WIDTH
    corner = -SHAPE_SIZE / 2 + ELL_ARM_WIDTH / 2  # in the frame of the ell's square
    centroid = (full * corner + rest * ELL_ARM_WIDTH / 2) / (full + rest)
    return corner - centroid


def pick_offset(shape: str) -> np.ndarray:
    """Where the oracle picks ``shape``, on its top: the centroid of every convex shape and of the
    cross (its middle square is wider than the cup), the corner of the ell."""
    xy = ell_corner() if shape == "ell" else 0.0
    return np.array([xy, xy, SHAPE_HEIGHT / 2])


class AssemblingKits(Task):
    name = "assembling-kits"
    max_steps = N_PIECES + 3  # five placements, three more to redo a piece that missed its slot

    def reset(self, world, rng: np.random.Generator) -> None:
        (board_at,) = random_free_poses(rng, 1, 0.0, margin=BOARD_MARGIN)
        shapes = [str(shape) for shape in rng.choice(assets.KIT_SHAPES, N_PIECES)]
        slots = [(shape, x, y, rng.uniform(-np.pi, np.pi)) for shape, (x, y) in zip(shapes, SLOTS, strict=True)]
        board = planar_pose(*board_at[:2], BOARD_SIZE[2] / 2, board_at[2])
        assets.load(world.client, assets.kit_board(slots, BOARD_SIZE, SHAPE_SIZE), board, fixed=True)
        pieces = [add_piece(world, pose, shape, colour)
                  for pose, shape, colour in zip(poses_off_board(rng, board_at), shapes, COLOURS, strict=True)]
        self.goals = []
        for piece, (shape, x, y, yaw) in zip(pieces, slots, strict=True):
            # Pieces of one shape look alike: any of them fills any slot of that shape (as in Ravens).
            alike = tuple(other for other, other_shape in zip(pieces, shapes, strict=True) if other_shape == shape)
            self.goals.append(Goal(piece, board @ planar_pose(x, y, SEAT_Z, yaw), pick_offset(shape),
                                   SYMMETRY[shape], 1 / N_PIECES, alike=alike))


def poses_off_board(rng: np.random.Generator, board_at: np.ndarray, attempts: int = 10000) -> list[np.ndarray]:
    """``N_PIECES`` random (x, y, yaw), ``PIECE_CLEARANCE`` apart and ``BOARD_CLEARANCE`` from the
    board's centre at ``board_at`` (x, y, yaw), one at a time."""
    poses: list[np.ndarray] = []
    for _ in range(attempts):
        (candidate,) = random_free_poses(rng, 1, 0.0, margin=MARGIN)
        if (np.linalg.norm(candidate[:2] - board_at[:2]) >= BOARD_CLEARANCE
                and all(np.linalg.norm(candidate[:2] - q[:2]) >= PIECE_CLEARANCE for q in poses)):
            poses.append(candidate)
            if len(poses) == N_PIECES:
                return poses
    raise RuntimeError(f"could not place {N_PIECES} pieces off the board")


def add_piece(world, pose: np.ndarray, shape: str, colour: str) -> int:
    x, y, yaw = pose
    urdf = assets.kit_shape(shape, SHAPE_SIZE, SHAPE_HEIGHT, assets.COLORS[colour])
    return assets.load(world.client, urdf, planar_pose(x, y, SHAPE_HEIGHT / 2 + MESH_MARGIN, yaw))
