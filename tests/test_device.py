"""Device selection: auto falls back to CPU, an explicit CUDA request without a GPU is an error."""

import subprocess
import sys

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


_FAULTS_SCRIPT = """
import resource, sys
import numpy as np
from eqrobot.device import keep_freed_memory

def arrays_in_use():
    held = [np.ones(1 << 19) for _ in range(8)]  # 8 x 4 MB, touched, then all freed
    return sum(a.sum() for a in held)

def faults_per_round():
    arrays_in_use()  # the heap grows once
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        arrays_in_use()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10

default = faults_per_round()
took = keep_freed_memory()
print(default, faults_per_round(), took)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_kept_memory_spares_the_page_faults_of_memory_used_again():
    # A fresh process: the setting is process-wide and other tests may have made it already.
    out = subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT], capture_output=True, text=True, check=True)
    default, kept, took = out.stdout.split()
    assert took == "True"
    # glibc hands the freed 32 MB back to the system and faults its 8192 pages in again next round
    assert float(default) > 1000
    assert float(kept) < 100
