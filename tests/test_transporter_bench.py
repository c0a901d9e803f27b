"""The pick-and-place benchmark runs end to end on a tiny budget (real demos, training and
simulator episodes), keeps finished runs, and the CLI refuses bad arguments."""

import json

import pytest
import torch

from eqrobot.cli.main import main
from eqrobot.policy.transporter.benchmark import (
    BenchConfig,
    demos_of_run,
    markdown_table,
    published,
    run_benchmark,
    with_earlier_tasks,
)
from eqrobot.sim.tasks.ravens_score import VERSION as RAVENS_SCORE_VERSION


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    cfg = BenchConfig(tasks=("block-insertion",), demos=(1,), agents=("eq",), steps=2, episodes=1,
                      latency_repeats=2, oracle_episodes=1)
    return out, cfg, run_benchmark(out, cfg, machine="test machine")


def test_the_benchmark_writes_its_table_plot_and_runs(tiny_bench):
    out, _, report = tiny_bench
    assert [(r["task"], r["agent"], r["demos"]) for r in report["runs"]] == [("block-insertion", "eq", 1)]
    assert all("error" not in r and 0.0 <= r["success_rate"] <= 1.0 for r in report["runs"])
    table = (out / "transporter.md").read_text()
    assert "| block-insertion | 1 |" in table and "[100]" in table  # ours beside the published number
    assert report["oracle_success"] == {"block-insertion": 1.0}
    on_gpu = {"eq (cuda)", "eq (cuda, no graphs)"} if torch.cuda.is_available() else set()
    assert set(report["latency_s"]) == {"eq (cpu)"} | on_gpu
    assert report["oracle_episodes_per_s"]["block-insertion"] > 0
    assert (out / "transporter.png").stat().st_size > 0
    assert json.loads((out / "transporter.json").read_text())["machine"] == "test machine"


def test_finished_runs_are_kept_when_the_benchmark_is_run_again(tiny_bench):
    out, cfg, _ = tiny_bench
    eval_file = out / "runs" / "block-insertion-eq-1" / "eval.json"
    kept = json.loads(eval_file.read_text())
    kept["success_rate"] = 0.123  # a marker: a rerun that retrained would overwrite it
    eval_file.write_text(json.dumps(kept))
    report = run_benchmark(out, cfg, machine="test machine")
    assert [r["success_rate"] for r in report["runs"]] == [0.123]


@pytest.mark.parametrize("stale_because", [{"place_turns": 36}, {"ravens_score_version": RAVENS_SCORE_VERSION - 1}],
                         ids=["other place angles", "earlier Ravens score"])
def test_a_stale_result_is_evaluated_again_not_retrained(tiny_bench, stale_because):
    out, cfg, _ = tiny_bench
    run = out / "runs" / "block-insertion-eq-1"
    stale = json.loads((run / "eval.json").read_text())
    assert stale["ravens_score_version"] == RAVENS_SCORE_VERSION
    stale.update(success_rate=0.123, train_s=99.0, **stale_because)
    (run / "eval.json").write_text(json.dumps(stale))
    weights_written = (run / "transporter.safetensors").stat().st_mtime_ns
    (result,) = run_benchmark(out, cfg, machine="test machine")["runs"]
    assert result["place_turns"] == 72 and result["success_rate"] != 0.123
    assert result["ravens_score_version"] == RAVENS_SCORE_VERSION
    assert result["train_s"] == 99.0 and (run / "transporter.safetensors").stat().st_mtime_ns == weights_written


def test_later_training_runs_draw_their_demonstrations_and_the_cell_shows_the_mean(tiny_bench):
    out, cfg, _ = tiny_bench
    report = run_benchmark(out, BenchConfig(**{**cfg.__dict__, "runs": 2}), machine="test machine")
    first, second = report["runs"]
    assert (first["run"], second["run"]) == (0, 1)
    assert second["demo_episodes"] == list(demos_of_run(1, 1, 10))
    assert len(list((out / "data" / "block-insertion").glob("*.npz"))) == 10  # the pool runs draw from
    assert (out / "runs" / "block-insertion-eq-1-run1" / "transporter.safetensors").is_file()
    assert "(2 runs)" in (out / "transporter.md").read_text()


def test_which_demonstrations_a_run_learns_from():
    assert demos_of_run(0, 1, 10) is None  # the first demonstration, as a single-run table
    assert demos_of_run(3, 10, 10) is None  # all of the pool: only the seed differs
    drawn = [demos_of_run(run, 1, 10) for run in range(1, 6)]
    assert all(len(d) == 1 and 0 <= d[0] < 10 for d in drawn) and len(set(drawn)) > 1
    assert demos_of_run(2, 4, 10) == demos_of_run(2, 4, 10) and len(set(demos_of_run(2, 4, 10))) == 4


def test_a_cell_of_several_runs_shows_their_mean_and_spread():
    config = {"episodes": 10, "steps": 1, "agents": ["eq"], "tasks": ["align-box-corner"], "demos": [1],
              "oracle_episodes": 1}
    runs = [{"task": "align-box-corner", "agent": "eq", "demos": 1, "run": r, "episodes": 10, "place_turns": 72,
             "success_rate": s, "mean_reward": s} for r, s in enumerate((0.1, 1.0, 0.4))]
    runs.append({"task": "align-box-corner", "agent": "eq", "demos": 1, "run": 3, "error": "RuntimeError: boom"})
    report = {"machine": "m", "config": config, "runs": runs, "latency_s": {}, "oracle_episodes_per_s": {}}
    assert "| align-box-corner | 1 | 50 ± 37 [41] · 50 solved (3 runs, 1 failed) | - |" in markdown_table(report)


def test_finished_only_tabulates_what_was_evaluated_and_trains_nothing(tiny_bench):
    out, cfg, _ = tiny_bench
    wider = BenchConfig(tasks=cfg.tasks, demos=(1, 10), agents=("eq", "base"), steps=2, episodes=1,
                        latency_repeats=1, oracle_episodes=1, finished_only=True)
    report = run_benchmark(out, wider, machine="test machine")
    assert [(r["agent"], r["demos"]) for r in report["runs"]] == [("eq", 1)]
    assert not (out / "runs" / "block-insertion-base-1").exists()
    assert "| block-insertion | 10 | - [100] | - [100] |" in (out / "transporter.md").read_text()


def test_the_table_says_which_runs_were_evaluated_with_other_place_angles():
    config = {"episodes": 10, "steps": 1, "agents": ["eq", "base"], "tasks": ["block-insertion"], "demos": [1],
              "oracle_episodes": 1}
    report = {"machine": "m", "config": config,
              "runs": [{"task": "block-insertion", "agent": "eq", "demos": 1, "episodes": 10, "success_rate": 0.5,
                        "mean_reward": 0.6, "place_turns": 72},
                       {"task": "block-insertion", "agent": "base", "demos": 1, "episodes": 10, "success_rate": 0.2,
                        "mean_reward": 0.3}],
              "latency_s": {}, "oracle_episodes_per_s": {}}
    row = "| block-insertion | 1 | 60 [100] · 50 solved | 30 [100] · 20 solved (36 place angles) | - |"
    assert row in markdown_table(report)  # the score is the mean reward (Ravens' success), beside solved %


def test_the_table_says_which_runs_were_trained_for_another_number_of_steps():
    config = {"episodes": 10, "steps": 2000, "agents": ["eq", "base"], "tasks": ["block-insertion"], "demos": [1],
              "oracle_episodes": 1}
    runs = [{"task": "block-insertion", "agent": agent, "demos": 1, "episodes": 10, "success_rate": 0.5,
             "mean_reward": 0.5, "place_turns": 72, "steps": steps} for agent, steps in (("eq", 2000), ("base", 500))]
    report = {"machine": "m", "config": config, "runs": runs, "latency_s": {}, "oracle_episodes_per_s": {}}
    row = "| block-insertion | 1 | 50 [100] · 50 solved | 50 [100] · 50 solved (500 steps) | - |"
    assert row in markdown_table(report)


def test_the_score_is_by_ravens_metric_where_the_tasks_own_differs():
    config = {"episodes": 10, "steps": 1, "agents": ["eq"], "tasks": ["packing-boxes"], "demos": [1],
              "oracle_episodes": 1}
    runs = [{"task": "packing-boxes", "agent": "eq", "demos": 1, "episodes": 10, "success_rate": 0.1,
             "mean_reward": 0.2, "ravens_reward": 0.85, "place_turns": 72}]
    report = {"machine": "m", "config": config, "runs": runs, "latency_s": {}, "oracle_episodes_per_s": {}}
    assert "| packing-boxes | 1 | 85 [98.3] · 10 solved | - |" in markdown_table(report)


def test_benchmarking_some_tasks_keeps_the_rows_of_the_others(tmp_path):
    config = {"episodes": 10, "steps": 1, "agents": ["eq"], "demos": [1], "oracle_episodes": 1}
    run = {"agent": "eq", "demos": 1, "episodes": 10, "success_rate": 0.5, "mean_reward": 0.5, "place_turns": 72}
    earlier = {"machine": "m", "config": {**config, "tasks": ["align-box-corner", "block-insertion"]},
               "runs": [{**run, "task": "align-box-corner"}, {**run, "task": "block-insertion"}],
               "oracle_success": {"align-box-corner": 1.0, "block-insertion": 1.0},
               "oracle_episodes_per_s": {"align-box-corner": 1.4, "block-insertion": 1.3}, "latency_s": {}}
    (tmp_path / "transporter.json").write_text(json.dumps(earlier))
    now = {"machine": "m", "config": {**config, "tasks": ["block-insertion"]},
           "runs": [{**run, "task": "block-insertion", "success_rate": 0.9, "mean_reward": 0.9}],
           "oracle_success": {"block-insertion": 0.95}, "oracle_episodes_per_s": {"block-insertion": 1.2},
           "latency_s": {}}
    table = markdown_table(with_earlier_tasks(now, tmp_path / "transporter.json"))
    assert "| align-box-corner | 1 | 50 [41] · 50 solved | 100 |" in table  # kept as measured then
    assert "| block-insertion | 1 | 90 [100] · 90 solved | 95 |" in table  # this run's, not the earlier one
    assert "| block-insertion | 1 | 50" not in table
    (tmp_path / "transporter.json").write_text("{not json")
    assert with_earlier_tasks(now, tmp_path / "transporter.json") == now


def test_a_failed_run_is_recorded_and_the_table_still_written():
    report = {"machine": "m", "config": {"episodes": 1, "steps": 1, "agents": ["eq"], "tasks": ["block-insertion"],
                                          "demos": [1], "oracle_episodes": 1},
              "runs": [{"task": "block-insertion", "agent": "eq", "demos": 1, "error": "RuntimeError: boom"}],
              "latency_s": {}, "oracle_episodes_per_s": {}}
    assert "| block-insertion | 1 | failed [100] | - |" in markdown_table(report)


def test_published_numbers_are_looked_up_by_task_agent_and_demos():
    assert published("stack-block-pyramid", "eq", 10) == 80.0
    assert published("stack-block-pyramid", "base", 1) == 13.3
    assert published("block-insertion", "eq", 1000) is None


@pytest.mark.parametrize("args, message", [
    (["--tasks", "no-such-task"], "unknown task 'no-such-task'; known tasks:"),
    (["--agents", "eq,fancy"], "--agents takes eq and/or base"),
    (["--demos", "1,ten"], "--demos takes comma-separated whole numbers"),
    (["--steps", "0"], "must be at least 1"),
    (["--runs", "0"], "must be at least 1"),
])
def test_the_cli_refuses_bad_arguments(tmp_path, capsys, args, message):
    assert main(["bench", "transporter", "--out", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err
