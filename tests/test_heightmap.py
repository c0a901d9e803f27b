"""RGB-D -> top-down heightmap, the observation of the pick-and-place policies, checked on
analytic depth images (a camera looking straight down at a table with a raised block)."""

import numpy as np
import pytest

from eqrobot.geometry import CameraIntrinsics
from eqrobot.geometry.heightmap import RGBDView, Workspace, depth_to_points, heightmap_from_rgbd

K = CameraIntrinsics(K=[[450.0, 0, 320.0], [0, 450.0, 240.0], [0, 0, 1]], width=640, height=480)
# Optical frame in the world: x along world x, y along world -y, z (forward) straight down.
DOWN = np.array([[1.0, 0, 0, 0.5], [0, -1, 0, 0.0], [0, 0, -1, 1.0], [0, 0, 0, 1]])
BLOCK = ((0.40, 0.45), (-0.05, 0.0), 0.05)  # x range, y range, height (metres)


def table_with_block(color=(200, 30, 30)):
    """Depth (metres) and colour of the table (z = 0, 1 m below) with the block on it."""
    v, u = np.indices((K.height, K.width))
    depth = np.ones((K.height, K.width))
    x_top = 0.5 + (u - K.cx) * 0.95 / K.fx  # where each ray meets the block's top plane
    y_top = -(v - K.cy) * 0.95 / K.fy
    (x0, x1), (y0, y1), h = BLOCK
    on_top = (x_top >= x0) & (x_top < x1) & (y_top >= y0) & (y_top < y1)
    depth[on_top] = 1.0 - h
    colors = np.full((K.height, K.width, 3), 90, np.uint8)
    colors[on_top] = color
    return depth, colors


def test_a_block_on_the_table_stands_out_at_its_place_and_height():
    depth, colors = table_with_block()
    hm = heightmap_from_rgbd([RGBDView(colors, depth, K, DOWN)])
    assert hm.height.shape == (320, 160) and hm.color.shape == (320, 160, 3)
    (x0, x1), (y0, y1), h = BLOCK
    ws = hm.workspace
    r0, c0 = ws.xy_to_pixel([x0 + 0.005, y0 + 0.005])
    r1, c1 = ws.xy_to_pixel([x1 - 0.005, y1 - 0.005])
    assert np.allclose(hm.height[r0:r1 + 1, c0:c1 + 1], h, atol=1e-6)
    assert (hm.color[r0:r1 + 1, c0:c1 + 1] == (200, 30, 30)).all()
    r, c = ws.xy_to_pixel([0.6, 0.2])
    assert hm.height[r, c] == pytest.approx(0.0, abs=1e-6) and hm.seen[r, c]
    top = np.argwhere(hm.height > h / 2)
    centre = ws.pixel_to_xy(top).mean(0)
    np.testing.assert_allclose(centre, [(x0 + x1) / 2, (y0 + y1) / 2], atol=0.002)


def test_millimetre_depth_and_missing_readings():
    depth, colors = table_with_block()
    mm = np.round(depth * 1000).astype(np.uint16)
    mm[:, :300] = 0  # no reading on the left of the image (x < 0.456 m)
    metres = heightmap_from_rgbd([RGBDView(colors, depth, K, DOWN)])
    scaled = heightmap_from_rgbd([RGBDView(colors, mm, K, DOWN, depth_scale=0.001)])
    both = scaled.seen & metres.seen
    np.testing.assert_allclose(scaled.height[both], metres.height[both], atol=1e-6)
    assert 0 < scaled.seen.sum() < metres.seen.sum()  # the missing strip is unseen, not height 0 by a reading
    nan = depth.copy()
    nan[:50] = np.nan
    assert np.isfinite(heightmap_from_rgbd([RGBDView(colors, nan, K, DOWN)]).height).all()


def test_views_fuse_to_the_highest_surface_and_the_mean_colour():
    depth, colors = table_with_block()
    left, right = depth.copy(), depth.copy()
    left[:, 320:], right[:, :320] = 0, 0  # each camera sees half the table
    red = RGBDView(colors, left, K, DOWN)
    blue = RGBDView(np.full_like(colors, 20), depth, K, DOWN)
    fused = heightmap_from_rgbd([red, RGBDView(colors, right, K, DOWN)])
    whole = heightmap_from_rgbd([RGBDView(colors, depth, K, DOWN)])
    np.testing.assert_array_equal(fused.seen, whole.seen)
    np.testing.assert_allclose(fused.height, whole.height)
    mixed = heightmap_from_rgbd([red, blue])
    r, c = mixed.workspace.xy_to_pixel([0.45, 0.3])  # seen by both cameras (left half of the image)
    assert mixed.seen[r, c] and tuple(mixed.color[r, c]) == (55, 55, 55)


def test_points_in_the_optical_frame():
    depth = np.full((K.height, K.width), 2.0)
    points, index = depth_to_points(depth, K)
    centre = index.tolist().index(240 * 640 + 320)
    np.testing.assert_allclose(points[centre], [0, 0, 2.0])
    np.testing.assert_allclose(points[index.tolist().index(240 * 640 + 320 + 45)], [0.2, 0, 2.0])


def test_bad_inputs_raise_clear_errors():
    depth, colors = table_with_block()
    with pytest.raises(ValueError, match="intrinsics say 640x480"):
        heightmap_from_rgbd([RGBDView(colors, depth[:100], K, DOWN)])
    with pytest.raises(ValueError, match="color image"):
        heightmap_from_rgbd([RGBDView(colors[:, :10], depth, K, DOWN)])
    with pytest.raises(ValueError, match="at least one"):
        heightmap_from_rgbd([])
    with pytest.raises(ValueError, match="bounds"):
        Workspace(bounds=((0, 1), (1, 0), (0, 1)))
