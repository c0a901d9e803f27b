"""Oracle demonstrations of a simulated pick-and-place task, one .npz file per episode
(format: docs/episode_format.md). Resumable: episodes already in --out are kept.

examples:
  eqrobot demos --task block-insertion --n 10 --out data/block-insertion-train
  eqrobot demos --task block-insertion --n 100 --split test --out data/block-insertion-test
  eqrobot demos --task place-red-in-green --n 10 --gripper parallel-jaw --out data/red-jaw
"""

from __future__ import annotations

import argparse

HELP = "record oracle demonstrations of a simulated pick-and-place task"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, help="task name, e.g. block-insertion")
    p.add_argument("--n", type=int, required=True, help="successful episodes to keep")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--split", choices=("train", "test"), default="train",
                   help="train: even seeds, test: odd seeds (default: train)")
    p.add_argument("--gripper", choices=("suction", "parallel-jaw"), default="suction",
                   help="the simulated arm's gripper (default: suction)")


def run(args: argparse.Namespace) -> int:
    from eqrobot.cli.errors import CliError, require_task
    from eqrobot.sim.demos import collect

    require_task(args.task)
    if args.n < 1:
        raise CliError(f"--n must be at least 1, got {args.n}")
    counts = collect(args.task, args.n, args.out, args.split, max_tries=20 * args.n + 20, gripper=args.gripper)
    print(f"{counts['episodes']} episodes of {counts['task']} ({counts['split']}) in {counts['out']}: "
          f"{counts['made']} new, {counts['failed_seeds']} seeds skipped (oracle failed)")
    return 0
