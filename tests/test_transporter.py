"""The Transporter agent: the transport's geometry (turned crops correlated with the scene),
learning a small pick-and-place from one demonstration, checkpoints that resume."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.nn import functional

from eqrobot.geometry.heightmap import Workspace
from eqrobot.io.checkpoint import load_checkpoint, save_checkpoint
from eqrobot.policy.transporter.agent import TransporterAgent, scene_tensor
from eqrobot.policy.transporter.data import Episode, write_episode
from eqrobot.policy.transporter.model import (
    Transporter,
    TransporterConfig,
    correlate,
    place_angles,
    rotate,
    rotate_pixels,
)
from eqrobot.policy.transporter.train import TrainConfig, augmented, load_examples, train

SMALL = Workspace(bounds=((0.0, 0.2), (0.0, 0.1), (0.0, 0.28)), pixel_size=0.003125)  # 32 rows x 64 cols
TINY = TransporterConfig(width=8, depth=2, features=3, crop=16, rotations=8)
TINY_EQ = TransporterConfig(agent="eq", fields=2, order=4, depth=2, features=3, crop=16, rotations=8)


def test_fft_correlation_equals_the_direct_one():
    torch.manual_seed(0)
    features, kernels = torch.randn(3, 40, 24), torch.randn(5, 3, 8, 8)
    direct = functional.conv2d(functional.pad(features[None], (4, 3, 4, 3)), kernels)
    torch.testing.assert_close(correlate(features, kernels), direct, atol=1e-4, rtol=1e-4)


def test_turning_images_moves_content_like_turning_pixels():
    image = torch.zeros(1, 1, 40, 20)
    image[0, 0, 10, 14] = 1.0
    for angle in (math.pi / 2, math.pi, -math.pi / 2):
        turned = rotate(image, torch.tensor([angle]))[0, 0]
        peak = torch.nonzero(turned > 0.5)[0]
        expected = rotate_pixels(torch.tensor([10, 14]), angle, (40, 20))
        torch.testing.assert_close(peak.double(), expected, atol=1e-6, rtol=0)


def test_a_turned_copy_of_the_crop_is_found_at_its_place_and_angle():
    """The transport's geometry without learning: paste the crop around one pixel, turned by
    one of the angles, elsewhere in the scene; correlating the turned crops finds both."""
    torch.manual_seed(1)
    scene = torch.randn(3, 64, 96)
    crop = scene[:, 8:24, 10:26].clone()  # around pixel (16, 18)
    angles = torch.arange(8) * (2 * math.pi / 8)
    k = 3
    scene[:, 40:56, 60:76] = rotate(crop[None], angles[k:k + 1])[0] * 3.0  # centred on (48, 68)
    scores = correlate(scene, rotate(crop[None], angles))[0]
    turn, row, col = np.unravel_index(int(scores.argmax()), tuple(scores.shape))
    assert (turn, row, col) == (k, 48, 68)


def block_scene(block_rc, zone_rc):
    """A red 8 x 8 px block, 4 cm tall, and a flat green zone, on a grey table."""
    rows, cols = SMALL.shape
    color = np.full((rows, cols, 3), 120, np.uint8)
    height = np.zeros((rows, cols), np.float32)
    (br, bc), (zr, zc) = block_rc, zone_rc
    color[zr - 5:zr + 5, zc - 5:zc + 5] = (40, 200, 40)
    color[br - 4:br + 4, bc - 4:bc + 4] = (220, 30, 30)
    height[br - 4:br + 4, bc - 4:bc + 4] = 0.04
    return color, height


def demo_episode(block_rc=(12, 14), zone_rc=(18, 46), turn=math.pi / 2):
    color, height = block_scene(block_rc, zone_rc)
    pick_xy, place_xy = SMALL.pixel_to_xy(np.array([block_rc, zone_rc]))
    return Episode([color], [height], [[*pick_xy, 0.04, 0.0]], [[*place_xy, 0.04, turn]], [1.0],
                   SMALL.array, SMALL.pixel_size, task="toy")


@pytest.fixture(scope="module", params=[TINY, TINY_EQ], ids=["base", "eq"])
def trained(request, tmp_path_factory):
    data = tmp_path_factory.mktemp("toy_demos")
    write_episode(data / "000000.npz", demo_episode())
    out = tmp_path_factory.mktemp("toy_run")
    weights = train(data, out, TrainConfig(steps=120, lr=2e-3, augment=False, checkpoint_every=60), request.param)
    return weights, out, data, request.param


def test_one_demonstration_is_learned(trained):
    weights, out, *_ = trained
    agent = TransporterAgent.load(weights, device="cpu")
    color, height = block_scene((12, 14), (18, 46))
    action = agent.act({"color": color, "height": height})
    np.testing.assert_allclose(action["pick"][:2], SMALL.pixel_to_xy(np.array([12, 14])), atol=SMALL.pixel_size)
    np.testing.assert_allclose(action["place"][:2], SMALL.pixel_to_xy(np.array([18, 46])), atol=2 * SMALL.pixel_size)
    assert action["place"][3] == pytest.approx(math.pi / 2)
    assert action["pick"][2] == pytest.approx(0.04)  # the height the cameras saw at the pick
    assert (out / "training.png").is_file() and (out / "history.json").is_file()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_the_gpu_learns_the_demonstration_and_loads_on_the_cpu(tmp_path):
    write_episode(tmp_path / "demos" / "000000.npz", demo_episode())
    weights = train(tmp_path / "demos", tmp_path / "run", TrainConfig(steps=120, lr=2e-3, augment=False,
                                                                      checkpoint_every=60, device="cuda"), TINY_EQ)
    color, height = block_scene((12, 14), (18, 46))
    on_cpu = TransporterAgent.load(weights, device="cpu").act({"color": color, "height": height})
    on_gpu = TransporterAgent.load(weights, device="cuda").act({"color": color, "height": height})
    np.testing.assert_allclose(on_cpu["pick"][:2], SMALL.pixel_to_xy(np.array([12, 14])), atol=SMALL.pixel_size)
    np.testing.assert_allclose(on_cpu["place"][:2], SMALL.pixel_to_xy(np.array([18, 46])), atol=2 * SMALL.pixel_size)
    for key in ("pick", "place"):
        np.testing.assert_allclose(on_gpu[key], on_cpu[key], atol=1e-6)


def test_training_resumes_where_it_stopped(trained, capsys):
    _, out, data, config = trained
    weights = train(data, out, TrainConfig(steps=130, lr=2e-3, augment=False, checkpoint_every=60), config)
    assert "resuming from step 120" in capsys.readouterr().out
    agent = TransporterAgent.load(weights, device="cpu")
    assert agent.model.config == config and agent.meta["agent"] == config.agent


def test_the_resumable_checkpoint_loads_as_an_agent(trained):
    weights, out, *_ = trained
    last = TransporterAgent.load(out / "last.safetensors", device="cpu").model.weights()  # + optimizer state
    final = TransporterAgent.load(weights, device="cpu").model.weights()
    for name, value in final.items():
        torch.testing.assert_close(last[name], value)


def test_a_checkpoint_with_settings_this_version_does_not_know_is_refused(trained, tmp_path):
    weights, *_ = trained
    tensors, meta = load_checkpoint(weights)
    meta["model"]["future_option"] = 1
    save_checkpoint(tmp_path / "newer.safetensors", tensors, meta)
    with pytest.raises(ValueError, match="newer.safetensors: transporter settings this version does not know: "
                                         "future_option"):
        TransporterAgent.load(tmp_path / "newer.safetensors", device="cpu")


def test_a_run_saved_before_an_option_existed_resumes_with_its_default(trained, tmp_path, capsys):
    _, out, data, config = trained
    tensors, meta = load_checkpoint(out / "last.safetensors")
    del meta["model"]["pick_gain"]  # the option came after runs that are still being trained
    save_checkpoint(tmp_path / "last.safetensors", tensors, meta)
    train(data, tmp_path, TrainConfig(steps=meta["step"] + 2, lr=2e-3, augment=False), config)
    assert f"resuming from step {meta['step']}" in capsys.readouterr().out


def test_resuming_with_another_agent_is_refused(trained):
    _, out, data, config = trained
    other = TINY if config.agent == "eq" else TINY_EQ
    with pytest.raises(ValueError, match="another agent or task"):
        train(data, out, TrainConfig(steps=140, lr=2e-3, augment=False), other)


def test_acting_also_tries_the_angles_between_the_trained_bins(trained):
    weights, _, _, config = trained
    agent = TransporterAgent.load(weights, device="cpu")
    assert len(agent.angles) == 2 * config.rotations
    color, height = block_scene((12, 14), (18, 46))
    scene = scene_tensor(color, height)
    keys, crops = agent.model.key(scene), agent.model.crops(scene, torch.tensor([[12, 14]]))
    with torch.no_grad():
        fine, trained_bins = agent.model.transport(keys, crops, agent.angles), agent.model.transport(keys, crops)
    torch.testing.assert_close(fine[:, ::2], trained_bins)  # every other angle is a trained bin
    coarse = TransporterAgent.load(weights, device="cpu", place_turns=config.rotations)
    torch.testing.assert_close(coarse.angles, agent.model.angles)


def test_a_turn_between_two_bins_is_found_with_twice_the_angles():
    torch.manual_seed(2)
    scene = torch.randn(3, 64, 96)
    crop = scene[:, 8:25, 10:27].clone()  # odd side: turns about pixel (16, 18)
    bins = place_angles(8)
    halfway = (bins[3] + bins[4]) / 2
    scene[:, 40:57, 60:77] = rotate(crop[None], halfway[None])[0] * 3.0  # centred on (48, 68)
    scores = correlate(scene, rotate(crop[None], place_angles(16)))[0]
    assert np.unravel_index(int(scores.argmax()), tuple(scores.shape)) == (7, 48, 68)


def test_a_heightmap_of_another_size_is_refused(trained):
    agent = TransporterAgent.load(trained[0], device="cpu")
    with pytest.raises(ValueError, match=r"trained on \(32, 64\)"):
        agent.act({"color": np.zeros((320, 160, 3), np.uint8), "height": np.zeros((320, 160), np.float32)})


def test_augmentation_moves_the_labels_with_the_scene(tmp_path):
    write_episode(tmp_path / "a.npz", demo_episode())
    examples, _ = load_examples(tmp_path, TINY.rotations)
    rng = np.random.default_rng(3)
    for _ in range(5):
        moved = augmented(examples[0], rng)
        height = moved.scene[3]  # the height channel
        r, c = moved.pick.tolist()
        assert height[r, c] > 0.3  # the block (0.04 m / 0.1) is still under the pick
        assert moved.turn == examples[0].turn == 2  # a quarter turn of 8 bins


def test_training_takes_the_chosen_demonstrations(tmp_path):
    blocks = [(12, 14), (10, 30), (20, 8)]
    for i, block in enumerate(blocks):
        write_episode(tmp_path / f"{i:06d}.npz", demo_episode(block_rc=block))
    examples, _ = load_examples(tmp_path, TINY.rotations, chosen=(2, 0))
    assert [e.episode for e in examples] == [0, 2]
    assert [e.pick.tolist() for e in examples] == [list(blocks[0]), list(blocks[2])]
    assert [e.episode for e in load_examples(tmp_path, TINY.rotations, demos=2)[0]] == [0, 1]
    with pytest.raises(ValueError, match=r"episodes \[5\] asked for, 3 readable episodes there"):
        load_examples(tmp_path, TINY.rotations, chosen=(1, 5))


def test_the_pick_gain_scales_the_pick_scores_only():
    torch.manual_seed(0)
    plain = Transporter(TINY)
    gained = Transporter(replace(TINY, pick_gain=10.0))
    gained.load_weights(plain.weights())
    scene = scene_tensor(*block_scene((12, 14), (18, 46)))
    torch.testing.assert_close(gained.pick_logits(scene), 10.0 * plain.pick_logits(scene))
    pick = torch.tensor([[12, 14]])
    torch.testing.assert_close(gained.place_logits(scene, pick), plain.place_logits(scene, pick))
    with pytest.raises(ValueError, match="pick_gain must be positive"):
        replace(TINY, pick_gain=0.0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("command", ["train", "eval"])
def test_asking_for_a_gpu_where_there_is_none_is_a_clear_error(command, tmp_path, capsys):
    from eqrobot.cli.main import main

    write_episode(tmp_path / "demos" / "000000.npz", demo_episode())
    args = {"train": ["--data", str(tmp_path / "demos"), "--out", str(tmp_path / "run")],
            "eval": ["--task", "block-insertion", "--ckpt", "models/transporter/block-insertion.safetensors",
                     "--episodes", "1", "--out", str(tmp_path / "result.json")]}[command]
    assert main([command, "transporter", *args, "--device", "cuda"]) == 2
    assert "device 'cuda' requested but CUDA is not available" in capsys.readouterr().err
