"""The eqrobot command line, run as a user runs it (a subprocess)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from eqrobot import geometry as g


def eqrobot(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "eqrobot", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_help_and_version():
    r = eqrobot("--help")
    assert r.returncode == 0
    for command in ("info", "transform", "grid", "demo"):
        assert command in r.stdout
    assert eqrobot("--version").stdout.startswith("eqrobot ")


def test_info_json():
    r = eqrobot("info", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["device_auto"] in ("cpu", "cuda")
    assert info["packages"]["numpy"].startswith("1.")


def test_transform_conversions():
    r = eqrobot("transform", "--rpy", "10", "20", "30", "--degrees", "--translation", "1", "2", "3", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    np.testing.assert_allclose(d["rpy_deg"], [10, 20, 30], atol=1e-9)
    T = np.array(d["matrix"])
    np.testing.assert_allclose(T[:3, :3], g.rpy_to_matrix(np.radians([10, 20, 30])), atol=1e-12)
    np.testing.assert_allclose(g.quat_to_matrix(d["quaternion_xyzw"]), T[:3, :3], atol=1e-12)
    np.testing.assert_allclose(d["translation"], [1, 2, 3])


def test_transform_inverse_from_a_file(tmp_path):
    T = g.random_transforms(1, seed=3)[0]
    f = tmp_path / "T.txt"
    np.savetxt(f, T)
    d = json.loads(eqrobot("transform", "--file", str(f), "--invert", "--json").stdout)
    np.testing.assert_allclose(np.array(d["matrix"]) @ T, np.eye(4), atol=1e-9)
    assert "translation" in eqrobot("transform", "--file", str(f)).stdout


@pytest.mark.parametrize(
    "content, message",
    [(None, "cannot read"), ("1 2 3", "expected 16 numbers"), ("a b c d", "not a whitespace-separated"),
     ("2 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1", "not a proper rotation")],
)
def test_transform_bad_input_is_one_line_and_exit_2(tmp_path, content, message):
    f = tmp_path / "T.txt"
    if content is not None:
        f.write_text(content)
    r = eqrobot("transform", "--file", str(f))
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_grid_so3_saves_rotations(tmp_path):
    out = tmp_path / "grid.npy"
    r = eqrobot("grid", "so3", "--level", "1", "--out", str(out))
    assert r.returncode == 0 and "576 cells" in r.stdout
    assert np.load(out).shape == (576, 3, 3)
    r = eqrobot("grid", "so3", "--level", "9")
    assert r.returncode == 2 and "0..5" in r.stderr


def test_grid_so2():
    r = eqrobot("grid", "so2", "--n", "36")
    assert r.returncode == 0 and "spacing 10.000 deg" in r.stdout


@pytest.mark.ros
def test_demo_runs_end_to_end(ros_env):
    r = eqrobot("demo", "--points", "20000", env=ros_env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every check passed" in r.stdout
    assert "[FAILED]" not in r.stdout
