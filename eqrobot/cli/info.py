"""Print what eqrobot runs on: versions, compute device, ROS 2 availability, installed files."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import warnings

HELP = "show versions, the compute device and whether ROS 2 is available"

_PACKAGES = ("numpy", "scipy", "torch", "escnn", "open3d", "pybullet", "rclpy")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _version(name: str) -> str:
    from importlib import metadata

    try:
        with warnings.catch_warnings():  # escnn warns about an optional Fortran extension
            warnings.simplefilter("ignore")
            module = importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - report any import failure as text
        return f"not available ({type(e).__name__}: {e})".splitlines()[0]
    try:
        return str(getattr(module, "__version__", None) or metadata.version(name))
    except metadata.PackageNotFoundError:
        return "installed"


def collect() -> dict:
    from eqrobot import __version__
    from eqrobot.device import resolve_device

    choice = resolve_device("auto")
    info = {
        "eqrobot": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_cores": os.cpu_count(),
        "device_auto": choice.device,
        "packages": {name: _version(name) for name in _PACKAGES},
        "rmw_implementation": os.environ.get("RMW_IMPLEMENTATION", "(default)"),
        "ros_domain_id": os.environ.get("ROS_DOMAIN_ID", "0 (default)"),
    }
    if choice.device.startswith("cuda"):
        import torch

        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for k, v in value.items():
                print(f"  {k:<10} {v}")
        else:
            print(f"{key:<20} {value}")
    return 0
