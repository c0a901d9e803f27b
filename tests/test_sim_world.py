"""The PyBullet world and its cameras: what three simulated RGB-D cameras see, fused into the
same heightmap a real robot's cameras give."""

import numpy as np
import pybullet as p
import pytest

from eqrobot import geometry as g
from eqrobot.sim.cameras import ravens_cameras
from eqrobot.sim.world import World


@pytest.fixture(scope="module")
def box_scene():
    with World(seed=0) as world:
        box = world.add_box((0.05, 0.05, 0.05), g.make_transform(translation=[0.5, 0.1, 0.025]))
        world.step(20)
        yield world.heightmap(), world.pose_of(box)


def test_the_cameras_use_pybullets_roll_pitch_yaw_convention():
    for rpy in ([np.pi / 4, np.pi, -np.pi / 2], [0.3, -0.2, 1.1]):
        np.testing.assert_allclose(g.quat_to_matrix(p.getQuaternionFromEuler(rpy)), g.rpy_to_matrix(rpy), atol=1e-7)
    for camera in ravens_cameras():  # each looks down at the workspace centre's side of the table
        assert camera.rotation[2, 2] < -0.5


def test_a_box_on_the_table_appears_at_its_place_height_and_colour(box_scene):
    hm, pose = box_scene
    assert hm.height.shape == (320, 160) and hm.seen.mean() > 0.99
    np.testing.assert_allclose(pose[:3, 3], [0.5, 0.1, 0.025], atol=1e-3)  # it rests where it was put
    ws = hm.workspace
    r, c = ws.xy_to_pixel([0.5, 0.1])
    assert hm.height[r, c] == pytest.approx(0.05, abs=0.003)
    red, green, blue = hm.color[r, c].astype(int)
    assert red > 2 * green and red > 2 * blue
    top = np.argwhere(hm.height > 0.025)
    np.testing.assert_allclose(ws.pixel_to_xy(top).mean(0), [0.5, 0.1], atol=0.003)
    assert 0.8 < len(top) * ws.pixel_size**2 / 0.05**2 < 1.4  # its footprint, give or take a cell row
    r, c = ws.xy_to_pixel([0.3, -0.3])
    assert hm.height[r, c] == pytest.approx(0.0, abs=0.002)


def test_worlds_are_independent_and_repeatable(box_scene):
    with World(seed=0) as a, World(seed=0) as b:
        a.add_box((0.05, 0.05, 0.05), g.make_transform(translation=[0.5, 0.1, 0.025]))
        a.step(20)
        ha, hb = a.heightmap(), b.heightmap()
    assert ha.height.max() > 0.04 and hb.height.max() < 0.005  # b has no box
    np.testing.assert_array_equal(ha.height, box_scene[0].height)
    np.testing.assert_array_equal(ha.color, box_scene[0].color)


def test_the_empty_table_is_one_colour_across_the_workspace():
    # A colour edge on the table (plane.urdf's checker tiles) would be a feature that stays put when
    # the scene turns.
    with World(seed=0) as world:
        color = world.heightmap().color.reshape(-1, 3).astype(int)
    assert np.ptp(color, axis=0).max() <= 2
