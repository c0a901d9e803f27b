"""Synthetic registration data: meshes, depth views, pair ground truth, splits, storage."""

import numpy as np
import open3d as o3d
import pytest
from scipy import stats
from scipy.spatial import cKDTree

from eqrobot.geometry.transforms import apply, check_transform
from eqrobot.io.samples import Mesh
from eqrobot.perception.registration import data
from eqrobot.perception.registration.data import (
    load_mesh,
    load_pairs,
    make_pairs,
    mesh_library,
    outer_surface_points,
    overlap_ratio,
    partial_pair,
    raycast_view,
    raycasting_scene,
    rpmnet_pair,
    save_pairs,
)

PAIR_MAKERS = {"partial": partial_pair, "rpmnet": rpmnet_pair}
SOME_MESHES = ["prim:box:3", "prim:compound:100004", "random_urdfs/912", "teddy"]


def distance_to_mesh(mesh_name: str, points: np.ndarray) -> np.ndarray:
    scene = raycasting_scene(load_mesh(mesh_name))
    return scene.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()


def rotation_angles_deg(pairs) -> np.ndarray:
    R = np.array([p.transform[:3, :3] for p in pairs])
    cos = np.clip((np.trace(R, axis1=1, axis2=2) - 1) / 2, -1, 1)
    return np.degrees(np.arccos(cos))


def haar_angle_cdf(deg):
    """Rotation angles of uniformly random rotations: CDF (t - sin t) / pi, mostly large."""
    t = np.radians(deg)
    return (t - np.sin(t)) / np.pi


def test_splits_hold_out_whole_meshes():
    splits = {s: mesh_library(s) for s in ("train", "val", "test")}
    for names in splits.values():
        assert len(names) == len(set(names))
    assert not set(splits["train"]) & set(splits["val"])
    assert not set(splits["train"]) & set(splits["test"])
    assert not set(splits["val"]) & set(splits["test"])
    assert {"bunny", "duck", "teddy"} <= set(splits["test"])
    assert "random_urdfs/799" in splits["train"] and "random_urdfs/800" in splits["val"]
    assert "random_urdfs/900" in splits["test"]
    with pytest.raises(ValueError, match="unknown split"):
        mesh_library("holdout")


@pytest.mark.parametrize("name", SOME_MESHES)
def test_meshes_are_centred_with_unit_diagonal_and_reproducible(name):
    mesh = load_mesh(name)
    lo, hi = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-12)
    assert np.linalg.norm(hi - lo) == pytest.approx(1.0)
    mesh.vertices[:] = 0  # callers get a copy, never the cached mesh
    np.testing.assert_array_equal(load_mesh(name).vertices.max(axis=0), hi)


def test_generated_shapes_depend_on_their_seed():
    assert not np.array_equal(load_mesh("prim:compound:1").vertices, load_mesh("prim:compound:2").vertices)
    with pytest.raises(ValueError, match="unknown"):
        load_mesh("prim:sphere:1")


def test_raycast_view_sees_the_facing_surface_only():
    cube = load_mesh("prim:box:0")
    half = cube.vertices.max(axis=0)
    camera = np.array([2.0, 0.0, 0.0])
    points = raycast_view(cube, camera, n_rays_side=64)
    assert len(points) > 500
    # Looking down -x at a box, only the +x face is visible.
    np.testing.assert_allclose(points[:, 0], half[0], atol=1e-5)
    noisy = raycast_view(cube, camera, n_rays_side=64, noise_sigma=0.01, seed=0)
    assert 0.005 < np.std(noisy[:, 0]) < 0.015  # depth noise lies along the rays
    with pytest.raises(ValueError, match="inside"):
        raycast_view(cube, [0.3, 0.0, 0.0])


def test_surface_samples_skip_faces_buried_in_other_parts():
    cube = load_mesh("prim:box:0")
    unit = Mesh(cube.vertices / cube.vertices.max(axis=0) / 2, cube.faces)  # [-0.5, 0.5]^3
    shifted = unit.vertices + [0.5, 0.0, 0.0]  # second cube overlapping half of the first
    two = Mesh(np.vstack([unit.vertices, shifted]), np.vstack([unit.faces, unit.faces + len(unit.vertices)]))
    points = outer_surface_points(two, 3000, seed=0)
    inside_first = np.all(np.abs(points) < 0.5 - 1e-6, axis=1)
    inside_second = np.all(np.abs(points - [0.5, 0, 0]) < 0.5 - 1e-6, axis=1)
    assert not np.any(inside_first | inside_second)
    # Each cube keeps 5 of its 6 unit faces (the faces at x = 0 and x = 0.5 are buried):
    # the outer face x = -0.5 gets a tenth of the samples.
    assert np.mean(points[:, 0] < -0.5 + 1e-6) == pytest.approx(1 / 10, abs=0.02)


@pytest.mark.parametrize("kind", ["partial", "rpmnet"])
def test_pairs_are_deterministic_per_seed(kind):
    make = PAIR_MAKERS[kind]
    a, b, c = make("prim:compound:7", 5), make("prim:compound:7", 5), make("prim:compound:7", 6)
    np.testing.assert_array_equal(a.source, b.source)
    np.testing.assert_array_equal(a.target, b.target)
    np.testing.assert_array_equal(a.transform, b.transform)
    assert a.overlap == b.overlap and a.info == b.info
    assert not np.array_equal(a.transform, c.transform)


@pytest.mark.parametrize("kind", ["partial", "rpmnet"])
@pytest.mark.parametrize("name", SOME_MESHES)
def test_ground_truth_puts_the_source_on_the_object(kind, name):
    pair = PAIR_MAKERS[kind](name, 11, noise_sigma=0.0)
    check_transform(pair.transform)
    assert distance_to_mesh(name, apply(pair.transform, pair.source)).max() < 1e-4
    assert distance_to_mesh(name, pair.target).max() < 1e-4
    assert distance_to_mesh(name, pair.source).max() > 0.01  # the source has really moved


@pytest.mark.parametrize(("kind", "noise"), [("partial", 0.005), ("rpmnet", 0.01)])
def test_ground_truth_aligns_overlapping_points_within_the_noise(kind, noise):
    for i, name in enumerate(SOME_MESHES):
        pair = PAIR_MAKERS[kind](name, i, noise_sigma=noise)
        distances, _ = cKDTree(pair.target).query(apply(pair.transform, pair.source))
        overlapping = distances <= 2 * data.point_spacing(pair.target)
        assert overlapping.mean() == pytest.approx(pair.overlap, abs=1e-3)
        assert distances[overlapping].mean() < 3 * noise


def test_partial_pairs_overlap_within_the_requested_range():
    pairs = make_pairs("partial", "val", 12, seed=4)
    for pair in pairs:
        assert 0.3 <= pair.overlap <= 0.7
        assert overlap_ratio(pair.source, pair.target, pair.transform) == pytest.approx(pair.overlap, abs=0.01)
        assert len(pair.source) <= 2048 and len(pair.target) <= 2048
    high = partial_pair("random_urdfs/850", 1, overlap_range=(0.8, 0.95), n_points=1000)
    assert 0.8 <= high.overlap <= 0.95 and len(high.source) <= 1000


def test_rotations_cover_all_of_so3():
    pairs = make_pairs("rpmnet", "train", 30, seed=2) + make_pairs("partial", "train", 30, seed=2)
    angles = rotation_angles_deg(pairs)
    assert stats.kstest(angles, haar_angle_cdf).pvalue > 0.01
    assert angles.max() > 150 and angles.min() < 90
    # The source moved by t uniform in [-0.5, 0.5]^3, so the inverse's shift -R^T t is as long as t.
    shifts = np.linalg.norm([p.transform[:3, 3] for p in pairs], axis=1)
    assert shifts.max() <= 0.5 * np.sqrt(3) and shifts.mean() > 0.3


def test_rpmnet_pairs_keep_seventy_percent_and_clip_noise():
    pair = rpmnet_pair("random_urdfs/905", 3)
    assert len(pair.source) == len(pair.target) == round(0.7 * 1024)
    assert len(rpmnet_pair("random_urdfs/905", 3, keep=0.5).target) == 512
    assert pair.overlap < 0.95  # independent crops: each side has points the other lacks
    clipped = rpmnet_pair("random_urdfs/905", 3, noise_sigma=0.1, noise_clip=0.01)
    assert distance_to_mesh("random_urdfs/905", clipped.target).max() <= 0.01 * np.sqrt(3) + 1e-5
    with pytest.raises(ValueError, match="keep"):
        rpmnet_pair("random_urdfs/905", 3, keep=0.0)


def test_make_pairs_cycles_the_split_and_is_stable_in_n():
    pairs = make_pairs("rpmnet", "val", 6, seed=9)
    val = set(mesh_library("val"))
    assert all(p.name in val for p in pairs)
    assert len({p.name for p in pairs}) == 6
    first = make_pairs("rpmnet", "val", 3, seed=9)
    for a, b in zip(first, pairs[:3], strict=True):
        np.testing.assert_array_equal(a.source, b.source)
    with pytest.raises(ValueError, match="kind"):
        make_pairs("modelnet", "val", 1, seed=0)


def test_make_pairs_replaces_a_mesh_without_a_valid_pair(monkeypatch):
    reference = make_pairs("rpmnet", "val", 2, seed=1)
    real = data.rpmnet_pair

    def failing_on_first(name, seed, **kwargs):
        if name == reference[0].name:
            raise data.PairGenerationError("no valid pair")
        return real(name, seed, **kwargs)

    monkeypatch.setattr(data, "rpmnet_pair", failing_on_first)
    pairs = make_pairs("rpmnet", "val", 2, seed=1)
    assert pairs[0].name == reference[1].name  # the next mesh in the order stands in


def test_pairs_round_trip_through_npz(tmp_path):
    pairs = [partial_pair("prim:capsule:5", 0), rpmnet_pair("bunny", 1)]
    pairs[1].info["extra"] = np.float32(2.5)  # numpy scalars are stored as plain numbers
    path = save_pairs(tmp_path / "sub" / "pairs.npz", pairs)
    loaded = load_pairs(path)
    assert len(loaded) == 2
    for a, b in zip(pairs, loaded, strict=True):
        np.testing.assert_array_equal(a.source, b.source)
        np.testing.assert_array_equal(a.target, b.target)
        np.testing.assert_array_equal(a.transform, b.transform)
        assert (a.name, a.overlap) == (b.name, b.overlap)
    assert loaded[0].info == pairs[0].info and loaded[1].info["extra"] == 2.5
    with np.load(path, allow_pickle=False) as raw:
        assert all(raw[k].dtype != object for k in raw.files)
    assert load_pairs(save_pairs(tmp_path / "empty.npz", [])) == []
    assert not list((tmp_path / "sub").glob(".*.tmp"))  # atomic write left no temporary file


def test_broken_shipped_mesh_is_left_out():
    assert "random_urdfs/168" not in mesh_library("train")
    with pytest.raises(ValueError, match="non-finite"):
        load_mesh("random_urdfs/168")
