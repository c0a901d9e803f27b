"""`eqrobot register`: one pair, a resumable batch, a ROS 2 bag; bad input handling."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from eqrobot import geometry as g
from eqrobot.geometry.types import PointCloud
from eqrobot.io.cloud_files import read_cloud, write_cloud
from eqrobot.io.samples import sample_cloud
from eqrobot.io.trajectory import read_tum
from eqrobot.perception.registration.data import partial_pair
from eqrobot.ros.bags import write_cloud_bag


def eqrobot(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "eqrobot", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pair")
    pair = partial_pair("bunny_scan", 3, n_points=4096, noise_sigma=0.003)
    write_cloud(d / "src.ply", PointCloud(pair.source))
    np.save(d / "tgt.npy", pair.target)
    return d, pair


def test_register_a_pair(pair_files):
    d, pair = pair_files
    r = eqrobot("register", str(d / "src.ply"), str(d / "tgt.npy"), "--out", str(d / "r.json"),
                "--save-aligned", str(d / "aligned.ply"))
    assert r.returncode == 0, r.stderr
    assert "transform (source -> target frame)" in r.stdout
    result = json.loads((d / "r.json").read_text())
    assert {"transform", "fitness", "inlier_rmse", "converged", "method", "time_s"} <= set(result)
    T = np.array(result["transform"])
    assert np.degrees(g.rotation_error(T, pair.transform)) < 5
    assert result["method"] == "eq" and isinstance(result["converged"], bool)
    aligned = read_cloud(d / "aligned.ply").points
    np.testing.assert_allclose(aligned, g.apply(T, pair.source), atol=1e-5)


def test_register_with_an_open3d_method_and_a_voxel(pair_files):
    d, _ = pair_files
    r = eqrobot("register", str(d / "src.ply"), str(d / "tgt.npy"), "--method", "fgr", "--voxel", "0.02")
    assert r.returncode == 0, r.stderr
    assert "method fgr" in r.stdout


def test_register_with_the_learned_descriptor_alone(pair_files):
    d, pair = pair_files
    r = eqrobot("register", str(d / "src.ply"), str(d / "tgt.npy"), "--descriptor", "learned",
                "--out", str(d / "learned.json"))
    assert r.returncode == 0, r.stderr
    T = np.array(json.loads((d / "learned.json").read_text())["transform"])
    assert np.degrees(g.rotation_error(T, pair.transform)) < 5
    r = eqrobot("register", str(d / "src.ply"), str(d / "tgt.npy"), "--descriptor", "shot")
    assert r.returncode == 2 and "shot" in r.stderr


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.ply", "missing.ply"),
        (lambda d: (d / "cloud.foo").write_text("1 2 3") and d / "cloud.foo", "cloud.foo"),
        (lambda d: np.save(d / "empty.npy", np.zeros((0, 3))) or d / "empty.npy", "empty.npy"),
        (lambda d: np.save(d / "nan.npy", np.full((100, 3), np.nan)) or d / "nan.npy", "nan.npy"),
        (lambda d: np.save(d / "few.npy", np.random.rand(10, 3)) or d / "few.npy", "few.npy"),
        (lambda d: np.save(d / "line.npy", np.c_[np.linspace(0, 1, 3000), np.zeros((3000, 2))]) or d / "line.npy",
         "line"),
    ],
    ids=["missing", "unknown-extension", "empty", "all-nan", "too-few", "degenerate"],
)
def test_bad_input_is_one_line_naming_the_file(tmp_path, pair_files, make, message):
    d, _ = pair_files
    bad = make(tmp_path)
    r = eqrobot("register", str(bad), str(d / "tgt.npy"), "--method", "fpfh")
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_batch_records_failures_goes_on_and_resumes(tmp_path, pair_files):
    d, _ = pair_files
    with (tmp_path / "pairs.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "target"])
        w.writerow([str(d / "src.ply"), str(d / "tgt.npy")])
        w.writerow(["nowhere.ply", str(d / "tgt.npy")])
        w.writerow([str(d / "tgt.npy"), str(d / "src.ply")])
    out = tmp_path / "results.jsonl"
    r = eqrobot("register", "--pairs", str(tmp_path / "pairs.csv"), "--out", str(out), "--method", "fpfh")
    assert r.returncode == 1  # a failed pair is reported in the exit code...
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["status"] for row in rows] == ["ok", "error", "ok"]  # ...but did not stop the batch
    assert "nowhere.ply" in rows[1]["error"]
    r = eqrobot("register", "--pairs", str(tmp_path / "pairs.csv"), "--out", str(out), "--method", "fpfh")
    assert "resuming: 3 of 3" in r.stdout
    assert len(out.read_text().splitlines()) == 3


def test_bag_odometry_writes_a_tum_trajectory_and_a_map(tmp_path):
    # The sensor moves around an object; each scan is the object in the sensor frame.
    poses = [g.make_transform(g.rpy_to_matrix([0, 0.1 * k, 0.5 * k]), [0.1 * k, 0.0, 0.02 * k]) for k in range(4)]
    clouds = []
    for k, pose in enumerate(poses):
        obj = sample_cloud("bunny", 6000, seed=k).points
        clouds.append(PointCloud(g.apply(g.invert(pose), obj), frame_id="lidar", stamp_ns=(k + 1) * 100_000_000))
    bag = tmp_path / "run"
    write_cloud_bag(bag, "/points", clouds, storage="mcap")
    r = eqrobot("register", "--bag", str(bag), "--topic", "/points", "--out", str(tmp_path / "traj.txt"),
                "--map", str(tmp_path / "map.ply"))
    assert r.returncode == 0, r.stderr
    stamps, est = read_tum(tmp_path / "traj.txt")
    assert stamps.tolist() == [c.stamp_ns for c in clouds]
    for k in range(4):
        truth = g.compose(g.invert(poses[0]), poses[k])
        assert np.degrees(g.rotation_error(est[k], truth)) < 3
        assert g.translation_error(est[k], truth) < 0.1  # the bunny is ~2 units across
    assert len(read_cloud(tmp_path / "map.ply")) > 100


def test_bag_errors(tmp_path):
    r = eqrobot("register", "--bag", str(tmp_path / "nope"), "--topic", "/points", "--out", str(tmp_path / "t.txt"))
    assert r.returncode == 2 and "nope" in r.stderr
    r = eqrobot("register", "a.ply", "--bag", "x")
    assert r.returncode == 2 and "either" in r.stderr


def test_train_rejects_a_descriptor_network_too_narrow(tmp_path):
    r = eqrobot("train", "registration", "--out", str(tmp_path / "run"), "--hidden", "0", "--steps", "1")
    assert r.returncode == 2
    assert "bad descriptor network: width 0" in r.stderr
    assert not (tmp_path / "run").exists()
