"""Benchmarks: the protocol, ours side by side with the reference methods in one run,
JSON + a markdown table + plots under --out. Numbers name the machine they ran on.

examples:
  eqrobot bench registration --out bench/            # 100 pairs per set
  eqrobot bench registration --out /tmp/b --pairs 20
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run a benchmark (registration) and write JSON, a markdown table and plots"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("capability", choices=("registration",))
    p.add_argument("--out", default="bench", help="output folder (default: bench/)")
    p.add_argument("--pairs", type=int, default=100, help="pairs per set")


def machine_description() -> str:
    from eqrobot.cli.info import collect

    info = collect()
    gpu = f", GPU {info['gpu']}" if "gpu" in info else ""
    return (f"{info['cpu_cores']} CPU cores, {info['platform']}, torch {info['packages']['torch']}, "
            f"open3d {info['packages']['open3d']}, device {info['device_auto']}{gpu}")


def run(args: argparse.Namespace) -> int:
    from eqrobot.perception.registration.evaluate import run_benchmark

    machine = machine_description()
    run_benchmark(args.out, args.pairs, machine)
    print((Path(args.out) / "registration.md").read_text())
    print(f"wrote {args.out}/registration.json, registration.md, registration.png")
    return 0
