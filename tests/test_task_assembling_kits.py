"""assembling-kits in real PyBullet (whole oracle episodes: test_sim_tasks.py): every piece in a slot of its shape
earns a fifth, pieces of one shape fill either's slot, and each shape counts at every yaw it
looks the same at: its symmetry, checked against the piece's silhouette."""

import warnings

import gymnasium
import numpy as np
import pybullet as p
import pytest
from gymnasium.utils.env_checker import check_env

import eqrobot.sim
from eqrobot.geometry.heightmap import RAVENS_BOUNDS
from eqrobot.geometry.rotations import matrix_to_quat
from eqrobot.sim import assets
from eqrobot.sim.robot import TOOL_RADIUS
from eqrobot.sim.tasks import make_task
from eqrobot.sim.tasks.assembling_kits import SYMMETRY, pick_offset
from eqrobot.sim.tasks.base import ANY_YAW, planar_pose
from eqrobot.sim.world import World

TASK = "assembling-kits"
SEED_WITH_TWO_TRIANGLES = 0  # goals 0 and 1 are triangles, goal 4 a circle
SEED_WITH_FIVE_SHAPES = 4  # ell, triangle, hexagon, circle, square


def test_a_piece_in_its_slot_scores_a_fifth(env):
    env.reset(seed=2)
    _, reward, terminated, _, info = env.step(env.oracle_action())
    assert reward == pytest.approx(1 / 5) and info["reward"] == pytest.approx(1 / 5) and not terminated


def move(world, body: int, T: np.ndarray) -> None:
    p.resetBasePositionAndOrientation(body, T[:3, 3].tolist(), matrix_to_quat(T[:3, :3]).tolist(),
                                      physicsClientId=world.client)


def turned(T: np.ndarray, yaw: float) -> np.ndarray:
    return T @ planar_pose(0.0, 0.0, 0.0, yaw)


def test_a_piece_in_the_slot_of_another_shape_earns_nothing_and_alike_pieces_fill_either_slot(task_world):
    world, task = task_world(TASK, SEED_WITH_TWO_TRIANGLES)
    first, second, *_, circle = task.goals
    assert first.alike == second.alike == (first.body, second.body) and circle.body not in first.alike
    move(world, circle.body, first.target)  # the circle on the first triangle's slot
    assert task.reward(world) == 0.0
    move(world, second.body, first.target)  # the second triangle on the first one's slot
    assert task.reward(world) == pytest.approx(1 / 5)
    # The oracle puts the first triangle into the slot left empty.
    pick, place = task.oracle(world)
    np.testing.assert_allclose(pick[:2], world.pose_of(first.body)[:2, 3], atol=1e-3)
    np.testing.assert_allclose(place[:2], second.target[:2, 3], atol=1e-3)
    move(world, first.body, turned(second.target, 2 * np.pi / 3))  # a triangle turned a third of a turn
    assert task.reward(world) == pytest.approx(2 / 5)


def test_each_piece_counts_at_the_yaws_its_shape_looks_the_same_at(task_world):
    world, task = task_world(TASK, SEED_WITH_FIVE_SHAPES)
    assert sorted(np.round([g.symmetry for g in task.goals], 3)) == sorted(
        np.round([SYMMETRY[s] for s in ("ell", "triangle", "hexagon", "circle", "square")], 3))
    for goal in task.goals:
        start = world.pose_of(goal.body)
        # The circle at any yaw; every other shape turned by its symmetry, and not turned 30 deg off.
        fits = (0.3, 1.0, 2.5) if goal.symmetry == ANY_YAW else (goal.symmetry, -goal.symmetry)
        for yaw in fits:
            move(world, goal.body, turned(goal.target, yaw))
            assert task.reward(world) == pytest.approx(1 / 5), (goal.symmetry, yaw)
        if goal.symmetry != ANY_YAW:
            move(world, goal.body, turned(goal.target, goal.symmetry + np.radians(30)))
            assert task.reward(world) == 0.0
        move(world, goal.body, start)


# --- the shapes: their symmetry and where the oracle picks them --------------------------------

GRID = (np.arange(-40, 40) + 0.5) * 0.001  # 1 mm about the piece's centroid: every shape fits 8 cm


def hits(world, body: int, xy: np.ndarray) -> np.ndarray:
    """Whether a ray straight down at each of ``xy`` (n, 2) hits ``body``."""
    starts = np.column_stack([xy, np.full(len(xy), 0.2)])
    ends = np.column_stack([xy, np.full(len(xy), 0.03)])  # above the table
    p.performCollisionDetection(physicsClientId=world.client)  # rays see bodies where they were moved
    found = []
    for i in range(0, len(xy), 10000):  # PyBullet's largest batch is 16384 rays
        found += p.rayTestBatch(starts[i:i + 10000].tolist(), ends[i:i + 10000].tolist(),
                                physicsClientId=world.client)
    return np.array([hit[0] == body for hit in found])


def silhouette(world, body: int, yaw: float) -> np.ndarray:
    """The grid points the piece covers from above, turned ``yaw`` about its centroid."""
    move(world, body, planar_pose(0.5, 0.0, 0.05, yaw))
    x, y = np.meshgrid(0.5 + GRID, GRID)
    return hits(world, body, np.column_stack([x.ravel(), y.ravel()]))


def looks_the_same(world, body: int, reference: np.ndarray, yaw: float) -> bool:
    """Turned ``yaw``, the piece covers the grid points it covers at yaw 0, but along its edges:
    those differ in under 2 % of its points; a turn that is no symmetry moves 9 % at least."""
    return np.sum(silhouette(world, body, yaw) != reference) < 0.04 * np.sum(reference)


@pytest.mark.parametrize("shape", assets.KIT_SHAPES)
def test_each_shape_looks_the_same_turned_by_its_symmetry_and_by_no_finer_turn(shape):
    with World() as world:
        body = assets.load(world.client, assets.kit_shape(shape), planar_pose(0.5, 0.0, 0.05, 0.0))
        reference = silhouette(world, body, 0.0)
        symmetry = SYMMETRY[shape]
        if symmetry == ANY_YAW:  # the 48-gon "circle"
            assert all(looks_the_same(world, body, reference, yaw) for yaw in (0.1, 0.7, 2.0))
            return
        assert looks_the_same(world, body, reference, symmetry)
        # Were the symmetry finer, by a whole factor, a turn of a half, a third or a fifth of it would be one too.
        assert not any(looks_the_same(world, body, reference, symmetry / k) for k in (2, 3, 5))


@pytest.mark.parametrize("shape", assets.KIT_SHAPES)
def test_the_oracle_picks_each_shape_where_the_suction_cup_lies_on_it(shape):
    with World() as world:
        body = assets.load(world.client, assets.kit_shape(shape), planar_pose(0.5, 0.0, 0.05, 0.0))
        angles = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
        rim = TOOL_RADIUS * np.column_stack([np.cos(angles), np.sin(angles)])
        cup = np.vstack([[0.0, 0.0], rim]) + pick_offset(shape)[:2] + [0.5, 0.0]
        assert hits(world, body, cup).all()


# --- scenes ------------------------------------------------------------------------------------


def test_scenes_keep_the_kit_in_the_workspace_and_the_pieces_off_it(task_world):
    bounds = np.array(RAVENS_BOUNDS)[:2]
    for seed in range(10):
        world, task = task_world(TASK, seed)
        slots = np.array([g.target[:2, 3] for g in task.goals])
        # Where pieces may start (0.08 m inside the workspace), so where the arm places well.
        assert np.all((slots >= bounds[:, 0] + 0.08) & (slots <= bounds[:, 1] - 0.08))
        bodies = range(p.getNumBodies(physicsClientId=world.client))
        for body in bodies:
            if body == world.table:
                continue
            low, high = np.array(p.getAABB(body, physicsClientId=world.client))[:, :2]
            assert np.all(low >= bounds[:, 0]) and np.all(high <= bounds[:, 1])
        board = next(b for b in bodies if b != world.table and b not in {g.body for g in task.goals})
        for goal in task.goals:  # no piece starts on the board
            assert not p.getClosestPoints(goal.body, board, 0.01, physicsClientId=world.client)
        world.close()


def test_gymnasium_makes_assembling_kits_and_check_env_passes():
    assert eqrobot.sim.ENV_IDS[TASK] == "eqrobot/AssemblingKits-v0"
    env = gymnasium.make("eqrobot/AssemblingKits-v0")
    assert env.spec.max_episode_steps == make_task(TASK).max_steps == 8
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*symmetric and normalized space")  # actions are metres
        check_env(env.unwrapped)
    env.close()
