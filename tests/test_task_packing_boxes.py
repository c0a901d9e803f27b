"""packing-boxes in real PyBullet (whole oracle episodes: test_sim_tasks.py): each box in its place earns its
share, a box outside the container or off its place earns nothing, boxes of one size fill either's
place, and the cut into boxes tiles the container with room to spare."""

import gymnasium
import numpy as np
import pybullet as p
import pytest

import eqrobot.sim
from eqrobot.geometry.heightmap import RAVENS_BOUNDS
from eqrobot.geometry.rotations import matrix_to_quat
from eqrobot.sim.tasks import make_task
from eqrobot.sim.tasks.base import planar_pose
from eqrobot.sim.tasks.packing_boxes import MIN_PLACE_CM, N_BOXES, PLAY, box_size, random_cut

TASK = "packing-boxes"
SEED_WITH_TWO_ALIKE = 0  # six boxes, the fourth and fifth of one size


def test_the_first_box_packed_scores_its_share_of_the_footprint(env):
    env.reset(seed=2)
    goals = env.task.goals
    first = goals[0]
    area = np.prod(box_size_of(env.world, first.body))
    assert first.weight == pytest.approx(area / sum(np.prod(box_size_of(env.world, g.body)) for g in goals))
    assert first.weight == max(g.weight for g in goals)  # the largest box first
    _, reward, terminated, _, info = env.step(env.oracle_action())
    assert reward == pytest.approx(first.weight) and info["reward"] == pytest.approx(first.weight)
    assert not terminated


def box_size_of(world, body: int) -> np.ndarray:
    """The footprint of a box, from its collision shape."""
    return np.array(p.getCollisionShapeData(body, -1, physicsClientId=world.client)[0][3][:2])


def move(world, body: int, T: np.ndarray) -> None:
    p.resetBasePositionAndOrientation(body, T[:3, 3].tolist(), matrix_to_quat(T[:3, :3]).tolist(),
                                      physicsClientId=world.client)


def test_a_box_left_outside_the_container_or_off_its_place_earns_nothing(task_world):
    world, task = task_world(TASK, SEED_WITH_TWO_ALIKE)
    *packed, last = task.goals
    for goal in packed:
        move(world, goal.body, goal.target)
    world.step(240)  # they fit: they stay in their places
    assert task.reward(world) == pytest.approx(1.0 - last.weight)  # the last box is still on the table
    move(world, last.body, last.target @ planar_pose(0.015, 0.0, 0.0, 0.0))  # 1.5 cm off its place
    assert task.reward(world) == pytest.approx(1.0 - last.weight)
    move(world, last.body, last.target)
    assert task.reward(world) == pytest.approx(1.0)


def test_ravens_metric_counts_the_share_of_the_boxes_inside_the_container_wherever_they_lie(task_world):
    world, task = task_world(TASK, SEED_WITH_TWO_ALIKE)
    assert task.ravens_reward(world) == 0.0  # all on the table
    *packed, last = task.goals
    for goal in packed:
        move(world, goal.body, goal.target)
    # Points fill each box's volume and the boxes are equally tall: a box's points weigh its footprint.
    assert task.ravens_reward(world) == pytest.approx(1.0 - last.weight)
    container, _ = task.zone
    move(world, last.body, container @ planar_pose(0.0, 0.0, 0.2, 0.3))  # over the middle, turned: no place's
    assert task.reward(world) == pytest.approx(1.0 - last.weight)
    assert task.ravens_reward(world) == pytest.approx(1.0)
    move(world, last.body, container @ planar_pose(0.0, task.zone[1][1] / 2, 0.2, 0.0))  # half over a wall
    assert 1.0 - last.weight < task.ravens_reward(world) < 1.0


def test_boxes_of_one_size_fill_either_place_and_count_turned_half_way(task_world):
    world, task = task_world(TASK, SEED_WITH_TWO_ALIKE)
    others = [g for g in task.goals if len(g.alike) == 1]
    first, second = (g for g in task.goals if len(g.alike) == 2)
    assert first.alike == second.alike == (first.body, second.body) and first.symmetry == np.pi
    start = world.pose_of(others[0].body)
    move(world, others[0].body, first.target)  # a box of another size in the first place: no fit
    assert task.reward(world) == 0.0
    move(world, others[0].body, start)
    for goal in others:
        move(world, goal.body, goal.target)
    rest = sum(g.weight for g in others)
    move(world, second.body, first.target @ planar_pose(0.0, 0.0, 0.0, np.pi))  # the box alike, turned 180 deg
    assert task.reward(world) == pytest.approx(rest + first.weight)
    pick, place = task.oracle(world)  # the first box goes into the place left empty
    np.testing.assert_allclose(pick[:2], world.pose_of(first.body)[:2, 3], atol=1e-3)
    np.testing.assert_allclose(place[:2], second.target[:2, 3], atol=1e-3)
    move(world, second.body, first.target @ planar_pose(0.0, 0.0, 0.0, np.pi / 2))  # not square: turned 90 deg, no fit
    assert task.reward(world) == pytest.approx(rest)


def test_the_cut_tiles_the_container_with_boxes_that_the_suction_cup_can_hold():
    rng = np.random.default_rng(0)
    counts = set()
    for _ in range(200):
        inside, places = random_cut(rng)
        counts.add(len(places))
        assert N_BOXES[0] <= len(places) <= N_BOXES[1]
        cover = np.zeros(inside, dtype=int)  # one cell per cm^2 of the inside
        for x0, y0, x1, y1 in places:
            assert min(x1 - x0, y1 - y0) >= MIN_PLACE_CM
            cover[x0:x1, y0:y1] += 1
            long, short = box_size((x0, y0, x1, y1))
            assert long >= short
            assert short == pytest.approx(0.01 * min(x1 - x0, y1 - y0) - 2 * PLAY)
        assert np.all(cover == 1)  # every cm^2 in exactly one place
    assert counts == set(range(N_BOXES[0], N_BOXES[1] + 1))


def test_scenes_start_in_the_workspace_without_overlaps(task_world):
    bounds = np.array(RAVENS_BOUNDS)[:2]
    for seed in range(10):
        world, task = task_world(TASK, seed)
        places = np.array([g.target[:2, 3] for g in task.goals])
        # Where boxes may start (0.08 m inside the workspace), so where the arm places well.
        assert np.all((places >= bounds[:, 0] + 0.08) & (places <= bounds[:, 1] - 0.08))
        bodies = [b for b in range(p.getNumBodies(physicsClientId=world.client)) if b != world.table]
        assert len(bodies) == len(task.goals) + 1  # the boxes and the container
        for i, body in enumerate(bodies):
            low, high = np.array(p.getAABB(body, physicsClientId=world.client))[:, :2]
            assert np.all(low >= bounds[:, 0]) and np.all(high <= bounds[:, 1])
            for other in bodies[i + 1:]:  # 1 cm apart at least
                assert not p.getClosestPoints(body, other, 0.01, physicsClientId=world.client)
        world.close()


def test_gymnasium_makes_packing_boxes():
    assert eqrobot.sim.ENV_IDS[TASK] == "eqrobot/PackingBoxes-v0"
    env = gymnasium.make("eqrobot/PackingBoxes-v0")
    assert env.spec.max_episode_steps == make_task(TASK).max_steps == N_BOXES[1] + 2
    env.close()
