"""Pose prediction: harmonics, the networks' symmetry, the shipped weights, the predictor."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from eqrobot.geometry.grids import SO3Grid
from eqrobot.geometry.harmonics import so3_features, spherical_harmonics, wigner_d
from eqrobot.geometry.rotations import random_rotations, rot_z
from eqrobot.perception.pose.benchmark import UNSEEN_OBJECTS
from eqrobot.perception.pose.data import TEST_SEED, load_arrays, write_dataset
from eqrobot.perception.pose.evaluate import (
    HALF_TURNS,
    class_of,
    errors,
    evaluate,
    evaluate_objects,
    uniform_loglik,
    with_half_turns,
)
from eqrobot.perception.pose.model import (
    LOG_VOLUME,
    PoseModelConfig,
    PoseNet,
    grid_features,
    log_density_at,
    log_normaliser,
    shift_right,
)
from eqrobot.perception.pose.predictor import PosePredictor, angle_between, default_weights
from eqrobot.perception.pose.train import load_model
from eqrobot.sim.symsol import SymsolCamera, random_objects, symmetries

LMAX = 6


def test_harmonics_orthonormal_and_turned_by_wigner_d():
    points = torch.tensor(_healpix_points(32))  # 12,288 equal-area cells
    y = spherical_harmonics(points, LMAX)
    gram = 4 * math.pi * y.T @ y / len(points)
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=2e-3)
    r = torch.tensor(random_rotations(2, seed=4))
    for l, (d0, d1, d01) in enumerate(zip(*[wigner_d(x, LMAX) for x in (r[0], r[1], r[0] @ r[1])], strict=True)):
        np.testing.assert_allclose(d01, d0 @ d1, atol=1e-10)  # a representation
        np.testing.assert_allclose(d0 @ d0.T, np.eye(2 * l + 1), atol=1e-10)
        block = slice(l * l, (l + 1) ** 2)
        np.testing.assert_allclose(spherical_harmonics(points[:50] @ r[0].T, LMAX)[:, block],
                                   spherical_harmonics(points[:50], LMAX)[:, block] @ d0.T, atol=1e-10)


def test_so3_features_orthonormal_on_the_grid():
    phi = so3_features(torch.tensor(SO3Grid(3).rotations, dtype=torch.float64), 4)
    np.testing.assert_allclose(phi.T @ phi / len(phi), np.eye(phi.shape[1]), atol=2e-2)


def test_shift_right_is_evaluation_at_r_q():
    coeffs = torch.randn(2, sum((2 * l + 1) ** 2 for l in range(LMAX + 1)), dtype=torch.float64)
    r = torch.tensor(random_rotations(5, seed=1))
    q = torch.tensor(random_rotations(1, seed=2)[0])
    np.testing.assert_allclose(shift_right(coeffs, q, LMAX) @ so3_features(r, LMAX).T,
                               coeffs @ so3_features(r @ q, LMAX).T, atol=1e-9)


def test_zero_coefficients_are_the_uniform_density():
    coeffs = torch.zeros(1, sum((2 * l + 1) ** 2 for l in range(LMAX + 1)))
    log_z = log_normaliser(coeffs, grid_features(1, LMAX), LMAX)
    density = log_density_at(coeffs, torch.tensor(random_rotations(3, seed=0))[None], log_z, LMAX)
    np.testing.assert_allclose(density, uniform_loglik(), atol=1e-6)
    assert uniform_loglik() == pytest.approx(-2.29, abs=0.01) == -LOG_VOLUME


def test_normaliser_integrates_a_peaked_density_to_one():
    """A density peaked at 190x uniform, normalised on the level-2 grid turned 8 times, sums to
    one (2 %) on the finer level-3 grid."""
    r0 = torch.tensor(random_rotations(1, seed=7), dtype=torch.float32)
    coeffs = 0.02 * so3_features(r0, LMAX)  # a bump at r0
    log_z = log_normaliser(coeffs, grid_features(2, LMAX), LMAX, torch.tensor(random_rotations(8, seed=1)).float())
    fine = torch.tensor(SO3Grid(3).rotations)[None]
    total = torch.exp(log_density_at(coeffs, fine, log_z, LMAX)).mean() * math.pi**2
    assert float(total) == pytest.approx(1.0, abs=0.02)


def _healpix_points(nside: int) -> np.ndarray:
    from eqrobot.geometry.grids import healpix_pix2ang

    theta, phi = healpix_pix2ang(nside)
    return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)


# --- symmetry of the networks: image turned by a quarter turn <-> density turned about the camera axis


def _quarter_turn_about_z_permutation(level: int) -> np.ndarray:
    """``perm[i]``: the grid cell that is ``Rz(90 deg) @ cell i`` (exact: the grid is closed under it)."""
    grid = SO3Grid(level)
    index, distance = grid.nearest(rot_z(math.pi / 2) @ grid.rotations.astype(np.float64))
    assert distance.max() < 1e-4
    return index


def _turned_image(images: torch.Tensor) -> torch.Tensor:
    """The picture of the object turned by +90 deg about the camera's z (x right, y down): clockwise on screen."""
    return torch.rot90(images, -1, dims=(2, 3))


@pytest.fixture(scope="module")
def renders():
    with SymsolCamera(128) as camera:
        rotations = random_rotations(4, seed=TEST_SEED + 77)
        shapes = ("tet", "cube", "icosa", "cone")
        images = [camera.render(s, r)[0] for s, r in zip(shapes, rotations, strict=True)]
        turned = [camera.render(s, rot_z(math.pi / 2) @ r)[0] for s, r in zip(shapes, rotations, strict=True)]
    return shapes, rotations, np.stack(images), np.stack(turned)


def _log_density_on_grid(model: PoseNet, images: np.ndarray) -> np.ndarray:
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        logits = model(x) @ model.train_grid
    return (logits - torch.logsumexp(logits, dim=1, keepdim=True)).numpy()


@pytest.mark.parametrize("weights", ["untrained", "shipped"])
def test_eq_density_turns_with_the_image(weights, renders):
    _, _, images, _ = renders
    model = load_model(default_weights("eq"))[0] if weights == "shipped" else \
        PoseNet(PoseModelConfig(channels=(8, 16), image_size=64, lmax=4)).eval()
    perm = _quarter_turn_about_z_permutation(model.config.train_level)
    before = _log_density_on_grid(model, images)
    after = _log_density_on_grid(model, _turned_image(torch.as_tensor(images).permute(0, 3, 1, 2))
                                 .permute(0, 2, 3, 1).contiguous().numpy())
    # log p(Rz R | turned image) = log p(R | image), to rounding (float32): the tolerance is 1e-3 nats
    np.testing.assert_allclose(after[:, perm], before, atol=1e-3)
    assert np.ptp(before) > (1 if weights == "shipped" else 0.01)  # a flat density would pass trivially


def test_base_density_does_not_turn_with_the_image(renders):
    _, _, images, _ = renders
    model = load_model(default_weights("base"))[0]
    perm = _quarter_turn_about_z_permutation(model.config.train_level)
    before = _log_density_on_grid(model, images)
    after = _log_density_on_grid(model, np.rot90(images, -1, axes=(1, 2)).copy())
    assert np.abs(after[:, perm] - before).max() > 1.0  # the check above can fail


def test_rendered_turn_matches_the_image_turn(renders):
    """The renderer's headlight makes a solid turned about the camera axis look like the turned picture."""
    _, _, images, turned = renders
    by_array = np.rot90(images, -1, axes=(1, 2))
    assert np.abs(by_array.astype(float) - turned).mean() < 2.5


# --- the shipped weights and the predictor


@pytest.fixture(scope="module")
def predictor():
    return PosePredictor(device="cpu")


def test_shipped_eq_weights_score_on_fresh_test_renders(tmp_path_factory):
    folder = tmp_path_factory.mktemp("test-set")
    write_dataset(folder, 40, seed=TEST_SEED + 5000)
    model, meta = load_model(default_weights("eq"))
    result = evaluate(model, load_arrays(folder), desc="test")
    assert meta["kind"] == "eq"
    assert result["loglik"] > 4.0  # IPDF on SYMSOL I: 4.10; uniform: -2.29
    assert result["median_err_deg"] < 3.0 and result["acc15"] > 0.95
    assert set(result["per_shape"]) == {"tet", "cube", "icosa", "cone", "cyl"}


def test_predictor_modes_estimate_and_translation(predictor):
    with SymsolCamera(128) as camera:
        rotation = random_rotations(1, seed=TEST_SEED + 99)[0]
        rgb, depth = camera.render("cube", rotation)
        k = camera.intrinsics()
    estimate = predictor(rgb, depth, k)
    truths = rotation @ symmetries("cube")
    assert np.degrees(angle_between(estimate.rotation[None], truths).min()) < 3
    assert estimate.modes.shape == (5, 3, 3)
    for mode in estimate.modes:  # every mode of a cube is one of its 24 equivalents
        assert np.degrees(angle_between(mode[None], truths).min()) < 8
    assert 0 < estimate.mode_mass.sum() <= 1 + 1e-5
    assert np.all(np.linalg.eigvalsh(estimate.covariance) >= -1e-9) and estimate.uncertainty_deg < 10
    assert estimate.density.shape == (36864,) and estimate.density.sum() == pytest.approx(1, abs=1e-4)
    # the visible surface of a cube centred 5 m ahead: on the axis, nearer than its centre
    assert abs(estimate.translation[0]) < 0.15 and abs(estimate.translation[1]) < 0.15
    assert 4.0 < estimate.translation[2] < 5.0
    assert set(estimate.to_json()) >= {"rotation", "quaternion_xyzw", "modes", "covariance_rad2", "translation_m"}


def test_depth_window_leaves_out_the_wall_behind_the_object():
    from eqrobot.perception.pose.predictor import visible_centre

    with SymsolCamera(128) as camera:
        _, depth = camera.render("cube", random_rotations(1, seed=TEST_SEED + 8)[0])
        k = camera.intrinsics()
    walled = np.where(depth > 0, depth, np.float32(8.0))  # a wall 8 m away fills the background
    assert visible_centre(walled, k)[2] > 6.5  # every pixel: mostly wall
    assert 4.0 < visible_centre(walled, k, window_m=1.0)[2] < 5.0
    np.testing.assert_allclose(visible_centre(walled, k, window_m=1.0), visible_centre(depth, k), atol=0.01)
    with pytest.raises(ValueError, match="depth_window_m"):
        PosePredictor(depth_window_m=0.0)


def test_predictor_crops_to_the_centred_square_and_refuses_bad_images(predictor):
    with SymsolCamera(128) as camera:
        rotation = random_rotations(1, seed=TEST_SEED + 3)[0]
        rgb, _ = camera.render("tet", rotation)
    wide = np.full((128, 192, 3), 255, np.uint8)
    wide[:, 32:160] = rgb
    assert np.degrees(angle_between(predictor(wide).rotation[None], rotation @ symmetries("tet")).min()) < 3
    with pytest.raises(ValueError, match="uint8"):
        predictor(rgb.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(height, width, 3\)"):
        predictor(rgb[..., 0])
    with pytest.raises(ValueError, match="too small"):
        predictor(rgb[:8, :8])
    with pytest.raises(ValueError, match="depth"):
        predictor(rgb, np.ones((10, 10), np.float32), np.eye(3))


def test_training_images_turned_in_plane_match_renders_of_the_turned_object():
    """augment.turn_in_plane: the turned picture is the render of the object turned about the
    camera axis by the rotation it returns (to bilinear resampling), for any angle."""
    from eqrobot.perception.pose.augment import turn_in_plane

    rotations = random_rotations(2, seed=31)
    angles = torch.tensor([0.7, -2.1])
    with SymsolCamera(128) as camera:
        images = torch.as_tensor(np.stack([camera.render("object-811", r)[0] for r in rotations]))
        turned, turned_rotations = turn_in_plane(images.permute(0, 3, 1, 2).float(), torch.as_tensor(rotations),
                                                 angles)
        # the turn the other way round: the sign convention is what this checks
        other_way = [rot_z(float(a)) @ r for a, r in zip(angles, rotations, strict=True)]
        for picture, r, wrong in zip(turned.permute(0, 2, 3, 1).numpy(), turned_rotations.numpy(), other_way,
                                     strict=True):
            assert np.abs(camera.render("object-811", r)[0] - picture).mean() < 4.0  # resampled edges: 1.6, 2.4
            assert np.abs(camera.render("object-811", wrong)[0] - picture).mean() > 12.0  # 28, 19


def test_refinement_from_grid_features_matches_refinement_from_rotations(predictor):
    from eqrobot.perception.pose.predictor import refine

    coeffs = torch.randn(3, predictor.grid_features.shape[0], dtype=torch.float32)
    start = torch.tensor([5, 900, 30000])
    a = refine(coeffs, predictor.cells[start], predictor.lmax)
    b = refine(coeffs, predictor.cells[start], predictor.lmax, predictor.grid_features[:, start].T)
    assert np.degrees(angle_between(a.double().numpy(), b.double().numpy())).max() < 0.1
    values = [torch.einsum("bk,bk->b", coeffs, so3_features(r, predictor.lmax)) for r in (predictor.cells[start], a)]
    assert torch.all(values[1] >= values[0])  # it climbs


def test_region_of_interest_cuts_around_the_box_and_turns_the_estimate_back(predictor):
    """The picture pasted off the axis into a larger one (a camera turned away from the object):
    the estimate for the box is the centred estimate seen from the turned camera."""
    from eqrobot.perception.pose.crop import turn_onto

    with SymsolCamera(128) as camera:
        rgb, depth = camera.render("tet", random_rotations(1, seed=TEST_SEED + 41)[0])
        k = camera.intrinsics()
    centred = predictor(rgb, depth, k)
    canvas = np.full((240, 320, 3), 255, np.uint8)
    canvas[20:148, 170:298] = rgb
    canvas_depth = np.zeros((240, 320), np.float32)
    canvas_depth[20:148, 170:298] = depth
    wide = k.copy()
    wide[0, 2], wide[1, 2] = 160.0, 120.0
    boxed = predictor(canvas, canvas_depth, wide, roi=(170, 20, 128, 128))
    ray = np.linalg.solve(wide, [234.0, 84.0, 1.0])
    view = turn_onto(ray / np.linalg.norm(ray))
    np.testing.assert_allclose(view @ [0, 0, 1], ray / np.linalg.norm(ray), atol=1e-12)
    np.testing.assert_allclose(boxed.view_rotation, view, atol=1e-9)
    assert np.degrees(angle_between(boxed.rotation, view @ centred.rotation)) < 0.05
    np.testing.assert_allclose(boxed.covariance, view @ centred.covariance @ view.T, atol=1e-6)
    np.testing.assert_allclose(boxed.density, centred.density, atol=1e-6)
    # the visible surface back-projected with the wide camera: 74 pixels right, 36 up of the centred one
    shift = np.array([74.0, -36.0, 0.0]) * centred.translation[2] / k[0, 0]
    np.testing.assert_allclose(boxed.translation, centred.translation + shift, atol=1e-4)


def test_region_of_interest_pads_outside_the_image_and_refuses_bad_boxes():
    from eqrobot.perception.pose.crop import roi_crop

    rgb = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    crop = roi_crop(rgb, np.ones((64, 64), np.float32), None, (-10, -6, 40, 20))
    assert crop.rgb.shape == (40, 40, 3) and crop.depth.shape == (40, 40)
    np.testing.assert_array_equal(crop.rgb[:16, 10], np.broadcast_to(rgb[0, 0], (16, 3)))  # the top row, repeated
    assert crop.depth[:16].max() == 0 and crop.depth[16:, 10:].min() == 1  # no reading outside
    np.testing.assert_allclose(crop.view_rotation, np.eye(3))  # no intrinsics: nothing to turn by
    for bad in [(0, 0, 0, 10), (70, 0, 10, 10), (0, -20, 10, 10), (0, 0, float("nan"), 5)]:
        with pytest.raises(ValueError, match="roi"):
            roi_crop(rgb, None, None, bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_replayed_cuda_graph_gives_the_eager_estimate():
    from eqrobot.cuda_graphs import GraphedNetwork

    eager = PosePredictor(device="cuda", cuda_graphs=False)
    replayed = PosePredictor(device="cuda")
    rng = np.random.default_rng(0)
    for _ in range(3):  # the first records the graph, the others replay it on new images
        rgb = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
        a, b = eager(rgb), replayed(rgb)
        np.testing.assert_allclose(b.density, a.density, atol=1e-6)
        assert np.degrees(angle_between(a.modes, b.modes)).max() < 0.01
    assert isinstance(replayed.pipeline, GraphedNetwork) and replayed.pipeline._graphs
    assert not replayed.pipeline._failed


def test_shipped_objects_weights_find_unseen_objects_axes(tmp_path):
    folder = tmp_path / "unseen"
    write_dataset(folder, 16, seed=TEST_SEED + 6000, shapes=random_objects(*UNSEEN_OBJECTS))
    model, meta = load_model(default_weights("objects-eq"))
    result = evaluate_objects(model, load_arrays(folder), desc="test")
    assert meta["kind"] == "eq" and meta["train"]["turn_images"]
    assert result["loglik"] > 2.5  # uniform: -2.29; 4.17 on the benchmark's 1000 renders
    assert result["axes"]["median_err_deg"] < 20 and result["axes"]["acc30"] > 0.75
    assert result["axes"]["median_err_deg"] <= result["median_err_deg"]
    assert result["per_class"]["object"]["images"] == 16


def test_classes_are_the_names_before_an_instance_number():
    assert [class_of(s) for s in ("mug-012", "object-807", "duck", "/parts/a-1.stl", "x-1234")] == \
        ["mug", "object", "duck", "/parts/a-1.stl", "x-1234"]


def test_axes_errors_forgive_only_half_turns_about_the_principal_axes():
    truth = random_rotations(1, seed=3)
    flipped = truth @ HALF_TURNS[1:]  # the frame's x, y or z pointing the other way
    assert np.allclose(errors(flipped, [truth] * 3), 180)
    assert np.allclose(errors(flipped, [with_half_turns(truth)] * 3), 0, atol=1e-5)
    quarter = truth @ rot_z(math.pi / 2)
    assert np.allclose(errors(quarter, [with_half_turns(truth)]), 90)


def test_warm_up_is_a_tenth_of_a_short_run_and_at_most_500_steps():
    from eqrobot.perception.pose.train import PoseTrainConfig

    assert PoseTrainConfig(steps=883).warmup == 88 and PoseTrainConfig(steps=20000).warmup == 500
    assert PoseTrainConfig(steps=100, warmup=7).warmup == 7
