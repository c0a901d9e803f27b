"""Choosing among pose candidates: batched point-to-plane refinement, the surface fit, and
the rule that surfaces decide unless several poses fit them equally well."""

import numpy as np
import pytest
import trimesh

from eqrobot import geometry as g
from eqrobot.geometry.rotations import rot_x, rot_z
from eqrobot.io.samples import sample_cloud
from eqrobot.perception.registration.estimator import distinct_poses
from eqrobot.perception.registration.preprocess import downsample, estimate_voxel_size, prepare_points
from eqrobot.perception.registration.refine import refine_poses, surface_fit
from eqrobot.perception.registration.screening import Matches, choose_pose


@pytest.fixture(scope="module")
def duck():
    points = sample_cloud("duck", 8000, seed=0).points
    voxel = estimate_voxel_size(points)
    return prepare_points(downsample(points, voxel), voxel, fpfh=False)


def small_motions(n, degrees, shift, seed):
    rng = np.random.default_rng(seed)
    axes = rng.normal(size=(n, 3))
    axes *= np.radians(degrees) / np.linalg.norm(axes, axis=1, keepdims=True)
    T = np.tile(np.eye(4), (n, 1, 1))
    T[:, :3, :3] = g.axis_angle_to_matrix(axes)
    directions = rng.normal(size=(n, 3))
    T[:, :3, 3] = shift * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    return T


def test_batched_refinement_pulls_nearby_poses_onto_the_surface(duck):
    start = small_motions(6, 4.0, duck.voxel, seed=1)
    pts = duck.points[::4]
    refined = refine_poses(pts, start, duck.index, duck.normals, duck.normal_ok, 3 * duck.voxel, iterations=10)
    assert np.degrees(g.rotation_error(start, np.eye(4))).min() > 3.9
    assert np.degrees(g.rotation_error(refined, np.eye(4))).max() < 0.5
    assert g.translation_error(refined, np.eye(4)).max() < 0.2 * duck.voxel
    # Each pose is refined on its own: the batch does not mix them.
    alone = refine_poses(pts, start[2:3], duck.index, duck.normals, duck.normal_ok, 3 * duck.voxel, iterations=10)
    np.testing.assert_allclose(alone[0], refined[2], atol=1e-9)


def test_surface_fit_counts_points_on_the_surface_and_their_distance_off_it(duck):
    def fit(pts, T):
        return surface_fit(pts, duck.normals, T[None], duck.index, duck.normals, 1.5 * duck.voxel)

    share, off = fit(duck.points, np.eye(4))
    assert share[0] == pytest.approx(1.0) and off[0] == pytest.approx(0.0, abs=1e-12)
    lifted = duck.points + 0.3 * duck.voxel * duck.normals
    share, off = fit(lifted, np.eye(4))
    assert share[0] > 0.9 and off[0] == pytest.approx(0.3 * duck.voxel, rel=0.2)
    share, _ = fit(duck.points, g.make_transform(translation=[0, 0, 10 * duck.voxel]))
    assert share[0] < 0.2


def test_surfaces_decide_over_match_support(duck):
    """A wrong pose backed by many matches loses to the right one backed by a few, because
    only the right one lays the points on the surface."""
    wrong = g.make_transform(rotation=rot_z(np.radians(40)), translation=[0.3 * duck.voxel, 0, 0])
    rng = np.random.default_rng(0)
    many, few = rng.choice(len(duck), 60, replace=False), rng.choice(len(duck), 6, replace=False)
    src = np.vstack([duck.points[many], duck.points[few]])
    tgt = np.vstack([g.apply(wrong, duck.points[many]), duck.points[few]])
    matches = Matches(src, tgt, 2.5 * duck.voxel)
    start = small_motions(1, 2.0, 0.5 * duck.voxel, seed=3)[0]
    pose, _ = choose_pose(duck, duck, np.stack([wrong, start]), matches, 1.5 * duck.voxel)
    assert np.degrees(g.rotation_error(pose, np.eye(4))) < 1.0


@pytest.fixture(scope="module")
def cylinders():
    """Two scans of one cylinder that sample its surface at different places."""
    mesh = trimesh.creation.cylinder(radius=0.05, height=0.2, sections=64)
    scans = [trimesh.sample.sample_surface_even(mesh, 6000, seed=seed)[0] for seed in (0, 1)]
    voxel = estimate_voxel_size(scans[1])
    return [prepare_points(downsample(points, voxel), voxel, fpfh=False) for points in scans]


@pytest.mark.parametrize("backed", ["identity", "flip"])
def test_matches_decide_between_poses_that_fit_equally(cylinders, backed):
    """A cylinder flipped end over end fits itself as well as unmoved: the surfaces cannot
    tell, so the pose that explains the matches wins, and the result is flagged ambiguous.
    (Refinement may turn it about its own axis: only where the axis points is checked.)"""
    flip = g.make_transform(rotation=rot_x(np.pi))
    backing = np.eye(4) if backed == "identity" else flip
    source, target = cylinders
    keys = np.random.default_rng(1).choice(len(source), 40, replace=False)
    src = source.points[keys]
    matches = Matches(src, g.apply(backing, src), 2.5 * source.voxel)
    pose, ambiguity = choose_pose(source, target, np.stack([np.eye(4), flip]), matches, 1.5 * source.voxel)
    assert pose[:3, 2] @ backing[:3, 2] > 0.999
    assert ambiguity > 0.9


def test_distinct_poses_skip_repeats_of_a_kept_pose():
    base = g.random_transforms(3, max_translation=1.0, seed=4)
    nudged = base[0].copy()
    nudged[:3, 3] += 0.001
    poses = np.stack([base[0], nudged, base[1], base[0], base[2]])
    assert distinct_poses(poses, np.zeros(3), 0.01, 10).tolist() == [0, 2, 4]
    assert distinct_poses(poses, np.zeros(3), 0.01, 2).tolist() == [0, 2]
