"""``eqrobot pose``, ``eqrobot train pose``, ``eqrobot eval pose`` and ``eqrobot bench pose``, run
as a user runs them (subprocesses), on rendered images written as files."""

import json
import subprocess
import sys

import numpy as np
import pytest

from eqrobot.geometry.rotations import random_rotations
from eqrobot.io.image_files import ImageFileError, read_depth, read_intrinsics, write_depth, write_rgb
from eqrobot.perception.pose.data import TEST_SEED, write_dataset
from eqrobot.perception.pose.predictor import angle_between
from eqrobot.sim.symsol import SymsolCamera, symmetries


def eqrobot(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "eqrobot", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cube_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cube")
    rotation = random_rotations(1, seed=TEST_SEED + 123)[0]
    with SymsolCamera(128) as camera:
        rgb, depth = camera.render("cube", rotation)
        k = camera.intrinsics()
    (folder / "camera_info.yaml").write_text(
        "image_width: 128\nimage_height: 128\ncamera_matrix:\n  rows: 3\n  cols: 3\n"
        f"  data: [{', '.join(str(v) for v in k.ravel())}]\n")
    return write_rgb(folder / "rgb.png", rgb), write_depth(folder / "depth.png", depth), \
        folder / "camera_info.yaml", rotation


def test_pose_writes_the_estimate_and_a_density_plot(tmp_path, cube_files):
    image, depth, intrinsics, rotation = cube_files
    out, png = tmp_path / "pose.json", tmp_path / "density.png"
    r = eqrobot("pose", "--image", str(image), "--depth", str(depth), "--intrinsics", str(intrinsics),
                "--out", str(out), "--plot", str(png), "--modes", "3", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    estimate = json.loads(out.read_text())
    assert set(estimate) == {"rotation", "quaternion_xyzw", "modes", "covariance_rad2", "uncertainty_deg",
                             "translation_m", "view_rotation", "time_s"}
    error = np.degrees(angle_between(np.array(estimate["rotation"])[None], rotation @ symmetries("cube")).min())
    assert error < 3
    assert len(estimate["modes"]) == 3 and all(0 < m["mass"] <= 1 for m in estimate["modes"])
    x, y, z = estimate["translation_m"]
    assert abs(x) < 0.15 and abs(y) < 0.15 and 4.0 < z < 5.0  # the cube's visible surface; its centre is at 5 m
    assert png.stat().st_size > 20_000
    assert "best mode holds" in r.stdout


def test_pose_errors_are_one_line_and_exit_2(tmp_path, cube_files):
    image, depth, _, _ = cube_files
    missing = eqrobot("pose", "--image", str(tmp_path / "nothing.png"))
    assert missing.returncode == 2 and "nothing.png" in missing.stderr
    alone = eqrobot("pose", "--image", str(image), "--depth", str(depth))
    assert alone.returncode == 2 and "--intrinsics" in alone.stderr
    sixteen_bit = eqrobot("pose", "--image", str(depth))
    assert sixteen_bit.returncode == 2 and "8 bits" in sixteen_bit.stderr
    (tmp_path / "broken.png").write_bytes(b"not a png")
    broken = eqrobot("pose", "--image", str(tmp_path / "broken.png"))
    assert broken.returncode == 2 and "not an image" in broken.stderr
    window = eqrobot("pose", "--image", str(image), "--depth-window", "-1")
    assert window.returncode == 2 and "depth_window_m" in window.stderr
    roi = eqrobot("pose", "--image", str(image), "--roi", "10,10,40")
    assert roi.returncode == 2 and "X,Y,W,H" in roi.stderr
    outside = eqrobot("pose", "--image", str(image), "--roi", "500,10,40,40", "--device", "cpu")
    assert outside.returncode == 2 and "outside the 128x128 image" in outside.stderr
    for r in (missing, alone, sixteen_bit, broken, window, roi, outside):
        assert "Traceback" not in r.stderr


def test_image_files_round_trip_and_refuse_bad_input(tmp_path, cube_files):
    _, depth, intrinsics, _ = cube_files
    assert read_intrinsics(intrinsics)[0, 0] > 100
    metres = read_depth(depth)
    assert metres.dtype == np.float32 and 4.0 < metres[metres > 0].min() < 5.0
    np.save(tmp_path / "d.npy", metres)
    np.testing.assert_array_equal(read_depth(tmp_path / "d.npy"), metres)
    (tmp_path / "k.yaml").write_text("K: [[500, 0, 64], [0, 500, 64], [0, 0, 1]]\n")
    assert read_intrinsics(tmp_path / "k.yaml")[1, 2] == 64
    (tmp_path / "bad.yaml").write_text("K: [1, 2, 3]\n")
    with pytest.raises(ImageFileError, match="9 numbers"):
        read_intrinsics(tmp_path / "bad.yaml")
    (tmp_path / "zero.yaml").write_text("K: [0, 0, 64, 0, 0, 64, 0, 0, 1]\n")
    with pytest.raises(ImageFileError, match="positive"):
        read_intrinsics(tmp_path / "zero.yaml")


def test_eval_pose_defaults_to_the_shipped_weights_on_fresh_renders(tmp_path):
    out = tmp_path / "result.json"
    r = eqrobot("eval", "pose", "--images", "10", "--out", str(out), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert {"loglik", "median_err_deg", "acc15", "acc30", "per_shape"} <= set(result)
    assert result["images"] == 10 and set(result["per_shape"]) == {"tet", "cube", "icosa", "cone", "cyl"}
    assert result["kind"] == "eq" and result["loglik"] > 3.0


def test_eval_pose_scores_objects_against_their_lookalikes(tmp_path):
    data, out = tmp_path / "objects", tmp_path / "objects.json"
    write_dataset(data, 4, seed=TEST_SEED, shapes=("object-807", "object-800"))  # a square bar; an odd one
    r = eqrobot("eval", "pose", "--data", str(data), "--lookalikes", "--out", str(out), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert result["images"] == 4 and result["per_shape"] == {} and list(result["per_class"]) == ["object"]
    assert result["asymmetric"]["objects"] == 1 and result["asymmetric"]["images"] == 2
    assert "1 objects with no look-alike turn" in r.stdout


def _tensors(path) -> dict:
    from eqrobot.io.checkpoint import load_checkpoint

    tensors, _ = load_checkpoint(path)
    return {k: v.tolist() for k, v in tensors.items() if "running_" not in k and "batches_tracked" not in k}


def test_train_pose_resumes_fine_tunes_and_bench_pose_tabulates(tmp_path):
    data = tmp_path / "data"
    write_dataset(data, 8, seed=0, size=32)
    run = tmp_path / "run"
    first = eqrobot("train", "pose", "--data", str(data), "--out", str(run), "--steps", "3", "--batch", "4",
                    "--image-size", "32", "--device", "cpu")
    assert first.returncode == 0, first.stderr
    again = eqrobot("train", "pose", "--data", str(data), "--out", str(run), "--steps", "5", "--batch", "4",
                    "--image-size", "32", "--device", "cpu")
    assert again.returncode == 0, again.stderr
    assert "resuming from step 3" in again.stdout
    history = json.loads((run / "history.json").read_text())
    assert history["step"] == [0, 1, 2, 3, 4] and (run / "training.png").is_file()
    other = eqrobot("train", "pose", "--data", str(data), "--out", str(run), "--steps", "5", "--image-size", "64",
                    "--device", "cpu")
    assert other.returncode == 2 and "other settings" in other.stderr

    tuned = tmp_path / "tuned"
    still = eqrobot("train", "pose", "--data", str(data), "--out", str(tuned), "--steps", "1", "--batch", "4",
                    "--lr", "0", "--start-from", str(run / "pose.safetensors"), "--device", "cpu")
    assert still.returncode == 0, still.stderr  # the 32 px architecture comes from the weights
    # lr 0: the weights it started from (only the norm statistics move)
    assert _tensors(tuned / "pose.safetensors") == _tensors(run / "pose.safetensors")
    mismatch = eqrobot("train", "pose", "--data", str(data), "--out", str(tmp_path / "other"), "--model", "base",
                       "--start-from", str(run / "pose.safetensors"), "--device", "cpu")
    assert mismatch.returncode == 2 and "kind eq for 32 px images" in mismatch.stderr

    bench = tmp_path / "bench"
    r = eqrobot("bench", "pose", "--out", str(bench), "--train-images", "8", "--test-images", "5", "--steps", "2",
                "--fractions", "1.0", "--image-size", "32", "--object-images", "4", "--object-kinds", "eq,base",
                "--device", "cpu")
    assert r.returncode == 0, r.stderr
    report = json.loads((bench / "pose.json").read_text())
    assert [(row["kind"], row["fraction"]) for row in report["rows"]] == [("eq", 1.0), ("base", 1.0)]
    assert [row["kind"] for row in report["object_rows"]] == ["eq", "base"]
    assert "Unseen objects" in (bench / "pose.md").read_text()
    assert all(0 <= row["asymmetric"]["objects"] <= 5 for row in report["object_rows"])  # 5 test images
    assert "| eq | 100 % |" in (bench / "pose.md").read_text() and (bench / "pose.png").is_file()
    bad = eqrobot("bench", "pose", "--out", str(bench), "--kinds", "eq,vit")
    assert bad.returncode == 2 and "--kinds" in bad.stderr
