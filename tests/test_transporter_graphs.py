"""CUDA graphs for acting: the same actions as running the networks eagerly, on new scenes
too (a replay reads its new input), and the model being trained is left alone."""

import numpy as np
import pytest
import torch

from eqrobot.cuda_graphs import GraphedNetwork
from eqrobot.policy.transporter.agent import TransporterAgent
from eqrobot.policy.transporter.graphs import graphed
from eqrobot.policy.transporter.model import Transporter, TransporterConfig

SMALL = {"base": TransporterConfig(width=8, depth=2, crop=16, rotations=8),
         "eq": TransporterConfig(agent="eq", fields=2, order=4, depth=2, crop=16, rotations=8)}


def scenes(n, seed=0):
    rng = np.random.default_rng(seed)
    return [{"color": rng.integers(0, 255, (320, 160, 3), dtype=np.uint8),
             "height": rng.uniform(0, 0.05, (320, 160)).astype(np.float32)} for _ in range(n)]


def test_the_twin_shares_the_weights_and_leaves_the_model_as_it_was():
    model = Transporter(SMALL["eq"])
    attention = model.attention
    twin = graphed(model, ("attention", "key", "query"))
    assert model.attention is attention and isinstance(twin.attention, GraphedNetwork)
    assert twin.attention.network is attention and twin.key.network is model.key
    model.eval()
    with torch.no_grad():  # on a CPU the twin runs the same networks eagerly
        scene = torch.randn(1, 4, 64, 32)
        torch.testing.assert_close(twin.pick_logits(scene), model.pick_logits(scene))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("agent", ["base", "eq"])
def test_replayed_graphs_act_as_the_eager_networks(agent):
    torch.manual_seed(0)
    model = Transporter(SMALL[agent])
    eager = TransporterAgent(model, device="cuda", cuda_graphs=False)
    replayed = TransporterAgent(model, device="cuda")
    for obs in scenes(3):  # the first records the graphs, the others replay them on new scenes
        a, b = eager.act(obs), replayed.act(obs)
        for key in ("pick", "place"):
            np.testing.assert_allclose(b[key], a[key], atol=1e-5)
    batch = scenes(2, seed=1)
    for a, b in zip(eager.act_batch(batch), replayed.act_batch(batch), strict=True):
        for key in ("pick", "place"):
            np.testing.assert_allclose(b[key], a[key], atol=1e-5)
