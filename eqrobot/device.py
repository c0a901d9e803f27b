"""Compute device selection, shared by the library, the CLI and the nodes."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceUnavailable(RuntimeError):
    """A GPU was asked for by name and none is usable (the CLI prints it as an error)."""


@dataclass(frozen=True)
class DeviceChoice:
    """The torch device to use and, when it differs from what was asked, why."""

    device: str
    note: str = ""


def resolve_device(spec: str = "auto") -> DeviceChoice:
    """``auto`` -> ``cuda`` when a GPU is usable, else ``cpu`` (with a note saying so).

    ``cuda`` / ``cuda:N`` when no GPU is usable raises ``DeviceUnavailable``: asking for a
    GPU explicitly and silently getting a CPU would hide a broken install.
    """
    import torch

    spec = (spec or "auto").strip().lower()
    base = spec.split(":", 1)[0]
    if base not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {DEVICE_CHOICES} (or cuda:N), got '{spec}'")
    if base == "cpu":
        return DeviceChoice("cpu")
    if torch.cuda.is_available():
        return DeviceChoice("cuda" if base == "auto" else spec)
    if base == "auto":
        return DeviceChoice("cpu", "device 'auto': no CUDA device available, using CPU")
    raise DeviceUnavailable(
        f"device '{spec}' requested but CUDA is not available "
        f"(torch {torch.__version__}, built with CUDA: {torch.version.cuda or 'no'}); use 'auto' or 'cpu'")


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch's CPU operations on ``n`` threads inside the block, then restore the count.

    For many small operations one thread is faster overall: torch's idle OpenMP threads keep
    spinning for a while after each parallel operation and, on a 2-core machine, take the
    cores from the numpy and Open3D work that follows."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# glibc's mallopt parameter numbers (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@functools.cache
def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Have glibc serve blocks below ``mmap_threshold`` bytes from the heap and keep up to
    ``trim_threshold`` bytes of freed heap instead of handing it back to the system; True
    when it took effect (Linux with glibc), for the whole process, once.

    By default a block of a few megabytes (a descriptor network's activations on a few
    hundred patches) is a fresh memory mapping, and the first touch of each of its pages is
    a page fault: that made the network twice as slow inside the registration pipeline as
    when run alone (measured on 2 cores). The cost is memory: the process keeps its peak heap."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
