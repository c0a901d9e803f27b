"""Device selection: auto falls back to CPU, an explicit CUDA request without a GPU is an error."""

import pytest
import torch

from eqrobot.device import resolve_device, torch_threads


def test_cpu_and_auto():
    assert resolve_device("cpu").device == "cpu"
    auto = resolve_device("auto")
    if torch.cuda.is_available():
        assert auto.device == "cuda" and not auto.note
    else:
        assert auto.device == "cpu" and "no CUDA" in auto.note


def test_unknown_device():
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_an_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda")


def test_torch_threads_are_restored_after_the_block_even_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), torch_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
