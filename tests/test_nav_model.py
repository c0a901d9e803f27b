"""The learned planners: E(2) equivariance checked by moving graphs (turns by any angle,
reflections, shifts) and comparing features against escnn's irreps of SO(2) and O(2); the
plain baseline is shown not to have it; training learns, resumes, and the shipped weights plan
near-optimally on held-out maps."""

import math
import warnings

import numpy as np
import pytest
import torch

from eqrobot.io.checkpoint import save_checkpoint
from eqrobot.policy.navigation.data import TEST_SEED, VALIDATION_SEED, graph_tensors, make_problems
from eqrobot.policy.navigation.evaluate import evaluate, learned_policy
from eqrobot.policy.navigation.model import MPVIN, NavModelConfig
from eqrobot.policy.navigation.planner import Planner, default_weights
from eqrobot.policy.navigation.train import NavTrainConfig, load_model, train

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*py3nj.*")
    from escnn.group import o2_group, so2_group


def _turn(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


@pytest.fixture(scope="module")
def problem():
    return make_problems(1, 32, VALIDATION_SEED + 7, goals=1)[0]


@pytest.fixture(scope="module")
def shipped():
    return load_model(default_weights("eq"))[0]


def _random_eq_model(seed: int = 0) -> MPVIN:
    torch.manual_seed(seed)
    return MPVIN(NavModelConfig(kind="eq")).eval()


@pytest.mark.parametrize("angle", [0.37, math.pi / 2, 2.9])
def test_steerable_features_turn_by_the_irreps_of_so2(problem, angle):
    model = _random_eq_model()
    group = so2_group(model.config.frequencies)
    with torch.no_grad():
        s, z = model.node_features(graph_tensors(problem.graph))
        s2, z2 = model.node_features(graph_tensors(problem.graph.transformed(_turn(angle), (3.0, -1.0))))
    torch.testing.assert_close(s2, s, atol=2e-4, rtol=1e-4)
    for k in range(1, model.config.frequencies + 1):
        rho = torch.as_tensor(group.irrep(k)(group.element(angle)), dtype=torch.float32)
        before = torch.stack([z[:, k - 1].real, z[:, k - 1].imag], dim=-1)  # (N, V, 2)
        after = torch.stack([z2[:, k - 1].real, z2[:, k - 1].imag], dim=-1)
        torch.testing.assert_close(after, before @ rho.T, atol=2e-4, rtol=1e-4)


def test_a_reflection_acts_on_the_features_as_in_o2(problem):
    model = _random_eq_model(1)
    group = o2_group(model.config.frequencies)
    flip = group.element((1, 0.0))
    reflection = torch.as_tensor(group.irrep(1, 1)(flip), dtype=torch.float32).numpy()  # diag(1, -1)
    with torch.no_grad():
        _, z = model.node_features(graph_tensors(problem.graph))
        _, z2 = model.node_features(graph_tensors(problem.graph.transformed(reflection)))
    for k in range(1, model.config.frequencies + 1):
        rho = torch.as_tensor(group.irrep(1, k)(flip), dtype=torch.float32)
        before = torch.stack([z[:, k - 1].real, z[:, k - 1].imag], dim=-1)
        after = torch.stack([z2[:, k - 1].real, z2[:, k - 1].imag], dim=-1)
        torch.testing.assert_close(after, before @ rho.T, atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("reflect", [False, True])
def test_moving_the_map_moves_the_plan_with_it(shipped, problem, reflect):
    graph = problem.graph
    motion = _turn(1.234) @ (np.diag([1.0, -1.0]) if reflect else np.eye(2))
    moved = graph.transformed(motion, (-7.5, 2.25))
    with torch.no_grad():
        costs = shipped.edge_costs(graph_tensors(graph))
        moved_costs = shipped.edge_costs(graph_tensors(moved))
    torch.testing.assert_close(moved_costs, costs, rtol=1e-4, atol=1e-6)
    policy = learned_policy(shipped, graph, problem.goal)
    assert np.array_equal(learned_policy(shipped, moved, problem.goal), policy)


def test_the_plain_gnn_is_not_invariant_to_turns(problem):
    """The check above can fail: the baseline, fed raw (dx, dy), gives other costs on a turned map."""
    torch.manual_seed(0)
    model = MPVIN(NavModelConfig(kind="gnn")).eval()
    with torch.no_grad():
        costs = model.edge_costs(graph_tensors(problem.graph))
        turned = model.edge_costs(graph_tensors(problem.graph.transformed(_turn(1.0))))
    assert (turned - costs).abs().max() > 1e-2 * costs.abs().max()


def test_value_iteration_reaches_dijkstras_values_when_costs_are_lengths(problem):
    from eqrobot.policy.navigation.model import value_iteration

    g = graph_tensors(problem.graph)
    lengths = torch.as_tensor(problem.graph.lengths, dtype=torch.float64)
    values = value_iteration(lengths, g.edges, torch.tensor([problem.goal]), g.num_nodes).numpy()
    finite = np.isfinite(problem.values)
    np.testing.assert_allclose(values[finite], problem.values[finite], rtol=1e-9)
    assert (values[~finite] >= 1e5).all()


def test_shipped_weights_plan_optimally_on_held_out_maps(shipped):
    problems = make_problems(6, 32, TEST_SEED + 100, goals=2)
    result = evaluate(shipped, problems)
    assert result["pct_succ"] == 100.0
    assert result["pct_opt"] >= 97.0
    turned = evaluate(shipped, problems, rotated=True, seed=3)
    assert turned["pct_opt"] == pytest.approx(result["pct_opt"], abs=0.5)


def test_training_learns_and_resumes(tmp_path):
    cfg = NavTrainConfig(maps=12, size=24, steps=40, batch=8, validate_every=0, checkpoint_every=20)
    problems = make_problems(4, 24, VALIDATION_SEED, goals=1)
    untrained = evaluate(_random_eq_model(3), problems)["pct_opt"]
    train(tmp_path, cfg)  # as if killed at step 40 of 400
    cfg.steps = 400
    weights = train(tmp_path, cfg)
    model, meta = load_model(weights)
    assert meta["step"] == 400 and meta["history"]["step"] == list(range(400))
    learned = evaluate(model, problems)["pct_opt"]
    assert learned >= 40.0 and learned > untrained + 20.0, (learned, untrained)
    assert (tmp_path / "training.png").stat().st_size > 1000
    other = NavTrainConfig(maps=13, size=24, steps=200, validate_every=0)
    with pytest.raises(ValueError, match="other settings"):
        train(tmp_path, other)


def test_weights_of_another_kind_or_capability_are_refused(tmp_path):
    with pytest.raises(ValueError, match="holds a 'eq' planner"):
        Planner("gnn", default_weights("eq"))
    save_checkpoint(tmp_path / "t.safetensors", {"w": torch.zeros(1)}, {"agent": "eq", "model": {}})
    with pytest.raises(ValueError, match="not a navigation checkpoint"):
        load_model(tmp_path / "t.safetensors")
    with pytest.raises(ValueError, match="kind must be one of eq, gnn"):
        NavModelConfig(kind="cnn")
