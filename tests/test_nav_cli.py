"""``eqrobot plan``, ``eqrobot train nav``, ``eqrobot eval nav`` and ``eqrobot bench nav``, run
as a user runs them (subprocesses), on map files written in the map_server format."""

import json
import subprocess
import sys

import numpy as np
import pytest

from eqrobot.io.map_files import write_map
from eqrobot.policy.navigation.maps import generate, rotated


def eqrobot(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "eqrobot", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def maze_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("maps")
    return write_map(folder / "maze.yaml", generate("maze", 48, 11))


@pytest.mark.parametrize("planner", ["eq", "dijkstra", "astar"])
def test_plan_writes_the_path_json_and_a_plot(tmp_path, maze_file, planner):
    out, png = tmp_path / "path.json", tmp_path / "path.png"
    r = eqrobot("plan", "--map", str(maze_file), "--start", "0.35", "0.35", "--goal", "3.95", "3.95",
                "--planner", planner, "--out", str(out), "--plot", str(png))
    assert r.returncode == 0, r.stderr
    plan = json.loads(out.read_text())
    assert set(plan) == {"path", "length_m", "reachable", "planner", "time_s"}
    assert plan["reachable"] and plan["planner"] == planner
    assert plan["path"][0] == [0.35, 0.35] and plan["path"][-1] == [3.95, 3.95]
    steps = np.linalg.norm(np.diff(np.array(plan["path"]), axis=0), axis=1)
    assert plan["length_m"] == pytest.approx(steps.sum())
    assert plan["length_m"] > 1.1 * (2 * 3.6**2) ** 0.5  # a maze: longer than the straight line
    assert png.stat().st_size > 10_000


def test_the_learned_plan_is_as_short_as_dijkstras(tmp_path, maze_file):
    lengths = {}
    for planner in ("eq", "dijkstra"):
        r = eqrobot("plan", "--map", str(maze_file), "--start", "0.35", "3.95", "--goal", "3.95", "0.35",
                    "--planner", planner, "--out", str(tmp_path / f"{planner}.json"))
        assert r.returncode == 0, r.stderr
        lengths[planner] = json.loads((tmp_path / f"{planner}.json").read_text())["length_m"]
    assert lengths["eq"] == pytest.approx(lengths["dijkstra"], rel=1e-3)


def test_a_turned_map_file_gives_the_same_plan_turned(tmp_path):
    """Turning the map (its origin's yaw) turns the graph and the learned planner's path with it."""
    m = generate("rooms", 40, 2)
    cells = ([3, 36], [3, 36])  # two free corners, (rows, cols)
    lengths = []
    for name, turned in (("plain", m), ("turned", rotated(m, 0.8))):
        start, goal = turned.cell_to_world(*cells)
        path = write_map(tmp_path / f"{name}.yaml", turned)
        out = tmp_path / f"{name}.json"
        r = eqrobot("plan", "--map", str(path), "--start", *map(str, start), "--goal", *map(str, goal),
                    "--out", str(out))
        assert r.returncode == 0, r.stderr
        lengths.append(json.loads(out.read_text())["length_m"])
    assert lengths[1] == pytest.approx(lengths[0], rel=1e-6)


@pytest.mark.parametrize("args, message", [
    (["--start", "-3", "0.35", "--goal", "3.95", "3.95"], "start (-3.00, 0.35) m is outside the map"),
    (["--start", "0.35", "0.35", "--goal", "0.05", "2.0"], "goal (0.05, 2.00) m is in an occupied cell"),
])
def test_plan_refuses_bad_endpoints_in_one_line(maze_file, args, message):
    r = eqrobot("plan", "--map", str(maze_file), *args)
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr


def test_plan_names_a_broken_map_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("image: none.pgm\nresolution: 0.05\n")
    r = eqrobot("plan", "--map", str(tmp_path / "bad.yaml"), "--start", "0", "0", "--goal", "1", "1")
    assert r.returncode == 2 and "missing origin" in r.stderr and "Traceback" not in r.stderr


def test_train_then_eval_nav(tmp_path):
    run = tmp_path / "run"
    r = eqrobot("train", "nav", "--maps", "6", "--size", "24", "--steps", "30", "--validate-every", "15",
                "--out", str(run))
    assert r.returncode == 0, r.stderr
    assert (run / "navigation.safetensors").is_file() and (run / "training.png").is_file()
    out = tmp_path / "eval.json"
    r = eqrobot("eval", "nav", "--ckpt", str(run / "navigation.safetensors"), "--maps", "3", "--rotated",
                "--out", str(out))
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert {"pct_opt", "pct_succ", "maps", "size", "rotated"} <= set(result)
    assert result["maps"] == 3 and result["size"] == 24 and result["rotated"] is True
    assert 0 <= result["pct_opt"] <= result["pct_succ"] <= 100


def test_eval_nav_refuses_a_missing_or_foreign_checkpoint(tmp_path):
    r = eqrobot("eval", "nav", "--ckpt", str(tmp_path / "none.safetensors"))
    assert r.returncode == 2 and "checkpoint not found" in r.stderr
    from eqrobot.resources import share_file

    r = eqrobot("eval", "nav", "--ckpt", str(share_file("models/transporter/block-insertion.safetensors")))
    assert r.returncode == 2 and "not a navigation checkpoint" in r.stderr


def test_bench_nav_small(tmp_path):
    r = eqrobot("bench", "nav", "--out", str(tmp_path), "--train-maps", "4", "--planners", "eq", "--steps", "10",
                "--test-maps", "2", "--timing-nodes", "300", "--follow", "1", timeout=600)
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "nav.json").read_text())
    assert [row["planner"] for row in result["accuracy"]] == ["eq", "dijkstra"]
    assert result["accuracy"][1]["size"]["pct_opt"] == 100.0
    assert 300 <= result["timing"][0]["nodes"] < 330 and result["timing"][0]["eq_s"] > 0  # gaps filled: a few more
    assert result["follow"]["plans"] == 1
    assert "| eq | 4 |" in (tmp_path / "nav.md").read_text() and (tmp_path / "nav.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps and --test-maps must be at least 1"),
    (["--train-maps", "10,x"], "--train-maps takes comma-separated whole numbers"),
    (["--planners", "eq,cnn"], "--planners takes eq and/or gnn"),
])
def test_bench_nav_refuses_bad_arguments(tmp_path, args, message):
    r = eqrobot("bench", "nav", "--out", str(tmp_path), *args, timeout=60)
    assert r.returncode == 2 and message in r.stderr
