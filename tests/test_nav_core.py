"""Graph navigation's core without learning: generated maps, map_server files, geometric graphs
in free space, the reference planners and the planner object's handling of bad input."""

import math

import numpy as np
import pytest

from eqrobot.geometry.types import OccupancyMap
from eqrobot.io.map_files import MapFileError, read_map, write_map
from eqrobot.policy.navigation.graph import GraphConfig, build_graph, components, segments_free
from eqrobot.policy.navigation.maps import KINDS, free_space, generate, rotated
from eqrobot.policy.navigation.planner import Planner, PlanningError
from eqrobot.policy.navigation.planners import astar, dijkstra_values, follow, greedy_successors, path_length


@pytest.mark.parametrize("kind", KINDS)
def test_generated_maps_are_closed_deterministic_and_mostly_free(kind):
    a, b, c = generate(kind, 40, 3), generate(kind, 40, 3), generate(kind, 40, 4)
    assert np.array_equal(a.data, b.data) and not np.array_equal(a.data, c.data)
    assert (a.data[0] == 100).all() and (a.data[-1] == 100).all() and (a.data[:, 0] == 100).all()
    assert 0.4 < (a.data == 0).mean() < 0.95
    assert set(np.unique(a.data)) <= {0, 100}


def test_unknown_map_kind_and_tiny_maps_are_refused():
    with pytest.raises(ValueError, match="obstacles, maze, rooms"):
        generate("forest", 32, 0)
    with pytest.raises(ValueError, match="16 cells"):
        generate("maze", 8, 0)


def test_graph_nodes_and_edges_keep_the_clearance():
    m = generate("obstacles", 40, 1)
    cfg = GraphConfig(clearance=0.15)
    g = build_graph(m, cfg)
    assert g.num_nodes == pytest.approx(cfg.density * free_space(m, 0.15).sum() * 0.01, rel=0.05)
    assert (g.clearance > 0.15).all()
    free = free_space(m, 0.15)
    assert segments_free(m, free, g.positions[g.edges[:, 0]], g.positions[g.edges[:, 1]]).all()
    # both directions of every edge, no self loops
    pairs = {tuple(e) for e in g.edges}
    assert all((j, i) in pairs for i, j in pairs) and all(i != j for i, j in pairs)


def test_a_segment_through_a_wall_is_not_free():
    data = np.zeros((20, 20), dtype=np.int8)
    data[:, 10] = 100
    m = OccupancyMap(data, resolution=0.1)
    free = free_space(m)
    assert not segments_free(m, free, np.array([[0.5, 1.0]]), np.array([[1.5, 1.0]]))[0]
    assert segments_free(m, free, np.array([[0.5, 1.0]]), np.array([[0.5, 1.9]]))[0]


@pytest.mark.parametrize("sampler", ["halton", "grid"])
def test_the_graph_turns_with_the_map(sampler):
    m = generate("rooms", 40, 2)
    g = build_graph(m, GraphConfig(sampler=sampler))
    turned = build_graph(rotated(m, 0.6), GraphConfig(sampler=sampler))
    centre = m.cell_to_world([19.5], [19.5])[0]
    c, s = math.cos(0.6), math.sin(0.6)
    expected = (g.positions - centre) @ np.array([[c, -s], [s, c]]).T + centre
    np.testing.assert_allclose(turned.positions, expected, atol=1e-9)
    if sampler == "halton":  # a lattice's equal distances let rounding pick other nearest neighbours
        assert np.array_equal(g.edges, turned.edges)


def test_dijkstra_astar_and_the_greedy_policy_agree():
    m = generate("maze", 48, 5)
    g = build_graph(m)
    label = components(g)
    main = np.flatnonzero(label == np.bincount(label).argmax())
    start, goal = int(main[0]), int(main[-1])
    values = dijkstra_values(g, goal)
    nodes = astar(g, start, goal)
    assert nodes[0] == start and nodes[-1] == goal
    assert path_length(g, nodes) == pytest.approx(values[start])
    reached, length = follow(g, greedy_successors(g, values), goal, main)
    assert reached.all()
    np.testing.assert_allclose(length, values[main], rtol=1e-9, atol=1e-12)
    # a maze path is much longer than the straight line
    assert values[start] > 1.5 * np.linalg.norm(g.positions[start] - g.positions[goal])


def test_map_files_round_trip_with_a_turned_origin(tmp_path):
    m = rotated(generate("rooms", 32, 1), 0.3)
    m.data[3:6, 3:6] = -1
    write_map(tmp_path / "office.yaml", m)
    assert (tmp_path / "office.pgm").read_bytes().startswith(b"P5\n32 32\n255\n")
    back = read_map(tmp_path / "office.yaml")
    assert np.array_equal(back.data, m.data)
    np.testing.assert_allclose(back.origin, m.origin, atol=1e-12)
    assert back.resolution == m.resolution


def test_map_server_thresholds_negate_and_image_rows(tmp_path):
    # image row 0 is the top of the map (largest y): it must become the map's last row
    pixels = np.array([[0, 254], [205, 100]], dtype=np.uint8)
    (tmp_path / "m.pgm").write_bytes(b"P5\n2 2\n255\n" + pixels.tobytes())
    (tmp_path / "m.yaml").write_text("image: m.pgm\nresolution: 0.5\norigin: [1.0, 2.0, 0.0]\n"
                                     "occupied_thresh: 0.65\nfree_thresh: 0.196\nnegate: 0\n")
    m = read_map(tmp_path / "m.yaml")
    assert m.data.tolist() == [[-1, -1], [100, 0]]  # 205 -> p 0.196 (unknown), 100 -> p 0.61 (unknown)
    assert m.cell_to_world([0], [0])[0].tolist() == [1.25, 2.25]
    (tmp_path / "n.yaml").write_text("image: m.pgm\nresolution: 0.5\norigin: [0, 0, 0]\nnegate: 1\n")
    assert read_map(tmp_path / "n.yaml").data.tolist() == [[100, -1], [0, 100]]  # dark is free


@pytest.mark.parametrize("text, message", [
    ("image: m.pgm\nresolution: 0.1\n", "missing origin"),
    ("image: m.pgm\nresolution: -1\norigin: [0, 0, 0]\n", "resolution must be positive"),
    ("image: m.pgm\nresolution: 0.1\norigin: [0, 0, 0]\nmode: fancy\n", "mode must be one of"),
    ("image: m.pgm\nresolution: 0.1\norigin: [0, 0]\n", r"origin must be \[x, y, yaw\]"),
    ("image: [unclosed\n", "not valid YAML"),
])
def test_bad_map_files_name_the_problem(tmp_path, text, message):
    (tmp_path / "m.pgm").write_bytes(b"P5\n1 1\n255\n\x00")
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(MapFileError, match=message):
        read_map(tmp_path / "m.yaml")


def test_a_missing_map_image_is_a_clear_error(tmp_path):
    (tmp_path / "m.yaml").write_text("image: gone.pgm\nresolution: 0.1\norigin: [0, 0, 0]\n")
    with pytest.raises(FileNotFoundError, match="gone.pgm"):
        read_map(tmp_path / "m.yaml")


@pytest.fixture(scope="module")
def two_rooms():
    """Two rooms with no door between them, and a patch of unknown cells."""
    data = np.zeros((30, 60), dtype=np.int8)
    data[[0, -1], :] = data[:, [0, -1]] = data[:, 30] = 100
    data[10:14, 5:9] = -1
    return OccupancyMap(data, resolution=0.1)


@pytest.mark.parametrize("start, message", [
    ((-1.0, 1.0), "outside the map"),
    ((3.05, 1.5), "occupied cell"),
    ((0.7, 1.2), "unknown cell"),
    ((math.nan, 1.0), "not a finite point"),
])
def test_bad_starts_are_refused_with_the_reason(two_rooms, start, message):
    planner = Planner("dijkstra")
    planner.set_map(two_rooms)
    with pytest.raises(PlanningError, match=message):
        planner.plan(start, (2.0, 1.5))


@pytest.mark.parametrize("name", ["dijkstra", "astar"])
def test_an_unreachable_goal_gives_no_path_and_says_why(two_rooms, name):
    planner = Planner(name)
    planner.set_map(two_rooms)
    plan = planner.plan((1.5, 1.5), (4.5, 1.5))
    assert not plan.reachable and len(plan.path) == 0 and "cannot be reached" in plan.reason
    assert plan.to_json()["length_m"] is None
    ok = planner.plan((1.5, 1.5), (2.5, 2.5))
    assert ok.reachable and ok.path[0].tolist() == [1.5, 1.5] and ok.path[-1].tolist() == [2.5, 2.5]


def test_a_planner_needs_a_map_and_a_known_name():
    with pytest.raises(RuntimeError, match="set_map"):
        Planner("dijkstra").plan((0, 0), (1, 1))
    with pytest.raises(ValueError, match="eq, gnn, dijkstra, astar"):
        Planner("rrt")
