"""Sample shapes, atomic writes and safe checkpoints."""

import pickle

import numpy as np
import pytest
import torch

from eqrobot.io.atomic import atomic_save_npy, atomic_write_json, atomic_write_text
from eqrobot.io.checkpoint import load_checkpoint, save_checkpoint
from eqrobot.io.samples import SAMPLE_MESHES, Mesh, read_obj, sample_cloud, sample_mesh, sample_surface


@pytest.mark.parametrize("name", sorted(SAMPLE_MESHES))
def test_sample_shapes_load_from_installed_packages(name):
    mesh = sample_mesh(name)
    assert len(mesh.vertices) > 100 and mesh.faces.max() < len(mesh.vertices)
    cloud = sample_cloud(name, 500, seed=0)
    assert cloud.points.shape == (500, 3) and np.isfinite(cloud.points).all()
    np.testing.assert_allclose(np.linalg.norm(cloud.normals, axis=1), 1.0)


def test_surface_sampling_is_uniform_and_seeded():
    # Unit square made of one big and one small triangle region: points follow area.
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    mesh = Mesh(v, np.array([[0, 1, 2], [0, 2, 3]]))
    p, n = sample_surface(mesh, 20_000, seed=1)
    assert abs((p[:, 0] < 0.5).mean() - 0.5) < 0.02
    np.testing.assert_allclose(np.abs(n[:, 2]), 1.0)
    np.testing.assert_array_equal(sample_surface(mesh, 10, seed=2)[0], sample_surface(mesh, 10, seed=2)[0])


def test_read_obj_polygons_and_errors(tmp_path):
    f = tmp_path / "quad.obj"
    f.write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1/1 2/2 3/3 4/4\n")
    assert read_obj(f).faces.tolist() == [[0, 1, 2], [0, 2, 3]]
    (tmp_path / "empty.obj").write_text("# nothing\n")
    with pytest.raises(ValueError, match="no vertices"):
        read_obj(tmp_path / "empty.obj")
    (tmp_path / "bad.obj").write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nf 1 2 9\n")
    with pytest.raises(ValueError, match="out of range"):
        read_obj(tmp_path / "bad.obj")
    with pytest.raises(ValueError, match="unknown sample"):
        sample_mesh("dragon")


def test_atomic_writes_replace_whole_files(tmp_path):
    f = tmp_path / "sub" / "a.json"
    atomic_write_json(f, {"a": 1})
    atomic_write_text(f, '{"a": 2}')
    assert f.read_text() == '{"a": 2}'
    atomic_save_npy(tmp_path / "x.npy", np.arange(5))
    assert np.load(tmp_path / "x.npy").tolist() == [0, 1, 2, 3, 4]
    assert not list(tmp_path.rglob(".*.tmp"))


def test_checkpoint_round_trip_with_metadata(tmp_path):
    model = torch.nn.Linear(3, 2)
    path = save_checkpoint(tmp_path / "m.safetensors", model.state_dict(), {"step": 7, "config": {"lr": 1e-3}})
    tensors, meta = load_checkpoint(path)
    assert meta == {"step": 7, "config": {"lr": 1e-3}}
    fresh = torch.nn.Linear(3, 2)
    fresh.load_state_dict(tensors)
    torch.testing.assert_close(fresh.weight, model.weight)


class _Evil:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_checkpoint_loading_never_unpickles(tmp_path, capsys):
    f = tmp_path / "evil.safetensors"
    f.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ValueError, match="not a valid eqrobot checkpoint"):
        load_checkpoint(f)
    assert "pickle code ran" not in capsys.readouterr().out
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.safetensors")
    good = save_checkpoint(tmp_path / "ok.safetensors", {"w": torch.ones(1000)})
    (tmp_path / "cut.safetensors").write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.safetensors"):
        load_checkpoint(tmp_path / "cut.safetensors")
