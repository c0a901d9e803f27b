"""The equivariant Transporter: quarter turns of the input turn the outputs, checked by
turning inputs and comparing outputs (random weights, so nothing is learned that could hide a
broken symmetry), for the networks, the pick, the place and the whole agent."""

import math

import numpy as np
import pytest
import torch

from eqrobot.geometry.heightmap import Workspace
from eqrobot.policy.transporter.agent import TransporterAgent
from eqrobot.policy.transporter.equivariant import EquivariantFCN
from eqrobot.policy.transporter.model import Transporter, TransporterConfig, rotate, rotate_pixels

QUARTER = math.pi / 2
SQUARE = Workspace(bounds=((0.0, 0.2), (0.0, 0.2), (0.0, 0.28)), pixel_size=0.003125)  # 64 x 64
EQ = TransporterConfig(agent="eq", fields=2, order=4, depth=2, features=3, crop=16, rotations=8)


def quarter_turn(images: torch.Tensor) -> torch.Tensor:
    """Turned by +90 degrees the way ``model.rotate`` turns (an exact permutation of pixels)."""
    return torch.rot90(images, -1, dims=(-2, -1))


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transporter(EQ).eval()


def test_quarter_turn_is_the_turn_of_rotate():
    image = torch.randn(1, 2, 16, 16)
    torch.testing.assert_close(quarter_turn(image), rotate(image, torch.tensor([QUARTER])), atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape", [(32, 64), (33, 33)], ids=["even heightmap", "odd crop"])
@pytest.mark.parametrize("order", [4, 8])
def test_the_network_turns_its_output_with_its_input(shape, order):
    torch.manual_seed(1)
    net = EquivariantFCN(4, 3, width=2, depth=2, order=order).eval()
    image = torch.randn(2, 4, *shape)
    with torch.no_grad():
        assert relative_error(net(quarter_turn(image)), quarter_turn(net(image))) < 1e-4


def test_moving_one_network_leaves_the_others_where_they_are():
    """escnn caches layers by basis; ours keep their own, so a model moved to the GPU (here:
    to float64, which the same cache would carry over) does not drag another model with it."""
    torch.manual_seed(1)
    moved, kept = (EquivariantFCN(4, 3, width=2, depth=2, order=4) for _ in range(2))
    moved.double()
    assert all(b.dtype != torch.float64 for b in kept.buffers())
    with torch.no_grad():
        assert kept.eval()(torch.randn(1, 4, 32, 32)).dtype == torch.float32


def test_a_plain_network_does_not(model):
    """The check above can fail: the baseline's U-Net is not equivariant."""
    torch.manual_seed(1)
    net = Transporter(TransporterConfig(width=8, depth=2, crop=16, rotations=8)).eval()
    image = torch.randn(1, 4, 64, 64)
    with torch.no_grad():
        assert relative_error(net.pick_logits(quarter_turn(image)), quarter_turn(net.pick_logits(image))) > 0.05


@torch.no_grad()
def test_the_pick_turns_with_the_scene(model):
    scene = torch.randn(1, 4, 64, 64)
    assert relative_error(model.pick_logits(quarter_turn(scene)), quarter_turn(model.pick_logits(scene))) < 1e-4


@torch.no_grad()
def test_the_place_turns_with_the_scene_and_keeps_its_angle(model):
    """Scene and picked object turn together: the place moves with the scene, the turn
    between pick and place stays."""
    scene = torch.randn(1, 4, 64, 64)
    pick = torch.tensor([20, 41])
    turned_pick = torch.round(rotate_pixels(pick, QUARTER, (64, 64))).long()
    place = model.place_logits(scene, pick[None])
    turned = model.place_logits(quarter_turn(scene), turned_pick[None])
    assert relative_error(turned, quarter_turn(place)) < 1e-4


@torch.no_grad()
def test_turning_the_picked_object_turns_the_place_angle(model):
    scene = torch.randn(1, 4, 64, 64)
    keys, crops = model.key(scene), model.crops(scene, torch.tensor([[30, 12]]))
    place = model.transport(keys, crops)
    turned = model.transport(keys, quarter_turn(crops))
    bins = EQ.rotations // 4  # a quarter turn of the crop is a quarter of the angles
    # the turned crop at angle r is the original crop at angle r + a quarter turn
    assert relative_error(turned, torch.roll(place, -bins, dims=1)) < 1e-4


def test_the_whole_agent_turns_its_action_with_the_heightmaps(model):
    agent = TransporterAgent(model, SQUARE, device="cpu")
    rng = np.random.default_rng(2)
    color = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    height = rng.uniform(0, 0.05, (64, 64)).astype(np.float32)
    action = agent.act({"color": color, "height": height})
    turned = agent.act({"color": np.ascontiguousarray(np.rot90(color, -1)),
                        "height": np.ascontiguousarray(np.rot90(height, -1))})
    for key in ("pick", "place"):
        pixel = torch.as_tensor(SQUARE.xy_to_pixel(action[key][:2]))
        expected = torch.round(rotate_pixels(pixel, QUARTER, SQUARE.shape)).long().numpy()
        np.testing.assert_array_equal(SQUARE.xy_to_pixel(turned[key][:2]), expected)
        assert turned[key][2] == pytest.approx(action[key][2])
    assert turned["place"][3] == pytest.approx(action["place"][3])


def test_weights_of_the_other_agent_are_refused(model):
    base = Transporter(TransporterConfig(width=8, depth=2, crop=16, rotations=8))
    with pytest.raises(ValueError, match="do not fit a eq Transporter"):
        model.load_weights(base.weights())


def test_checkpoints_keep_only_learned_tensors(model):
    """escnn's derived buffers (filter bases) are rebuilt, not stored: same outputs after a reload."""
    weights = model.weights()
    assert all("basis" not in name and not name.endswith("filter") for name in weights)
    fresh = Transporter(EQ)
    fresh.load_weights(weights)
    fresh.eval()
    scene = torch.randn(1, 4, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fresh.pick_logits(scene), model.pick_logits(scene))


def test_a_batch_gives_the_actions_of_its_members_one_by_one(model):
    agent = TransporterAgent(model, SQUARE, device="cpu")
    rng = np.random.default_rng(5)
    observations = [{"color": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                     "height": rng.uniform(0, 0.05, (64, 64)).astype(np.float32)} for _ in range(3)]
    for batched, obs in zip(agent.act_batch(observations), observations, strict=True):
        single = agent.act(obs)
        for key in ("pick", "place"):
            np.testing.assert_allclose(batched[key], single[key], atol=1e-6)


def test_raw_camera_views_give_the_action_of_their_heightmap():
    """The simulator's three cameras as raw RGB-D views: the agent fuses them itself."""
    import gymnasium

    import eqrobot.sim  # noqa: F401 - registers the environments
    from eqrobot.sim.cameras import ravens_cameras, render

    torch.manual_seed(0)
    agent = TransporterAgent(Transporter(TransporterConfig(agent="eq", fields=1, order=4, depth=2)), device="cpu")
    env = gymnasium.make("eqrobot/BlockInsertion-v0")
    try:
        obs, _ = env.reset(seed=1)
        views = [render(camera, env.unwrapped.world.client) for camera in ravens_cameras()]
        from_views = agent.act({"views": views})
    finally:
        env.close()
    expected = agent.act(obs)
    for key in ("pick", "place"):
        np.testing.assert_allclose(from_views[key], expected[key], atol=1e-6)
