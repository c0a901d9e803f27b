"""Compute device selection, shared by the library, the CLI and the nodes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DEVICE_CHOICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceChoice:
    """The torch device to use and, when it differs from what was asked, why."""

    device: str
    note: str = ""


def resolve_device(spec: str = "auto") -> DeviceChoice:
    """``auto`` -> ``cuda`` when a GPU is usable, else ``cpu`` (with a note saying so).

    ``cuda`` / ``cuda:N`` when no GPU is usable raises ``RuntimeError``: asking for a
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
    raise RuntimeError(
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
