"""Evaluate a trained model in the simulator and write the result as JSON.

examples:
  eqrobot eval transporter --task block-insertion --ckpt runs/bi-10/transporter.safetensors --episodes 100 \\
      --out result.json
"""

from __future__ import annotations

import argparse

HELP = "evaluate a trained model in the simulator (transporter)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("capability", choices=("transporter",))
    p.add_argument("--task", required=True, help="simulated task, e.g. block-insertion")
    p.add_argument("--ckpt", required=True, help="weights (transporter.safetensors)")
    p.add_argument("--episodes", type=int, default=100, help="test episodes (odd seeds 1, 3, ...)")
    p.add_argument("--out", help="result JSON (keys task, agent, demos, episodes, success_rate, mean_reward, "
                                  "ravens_reward)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--gripper", choices=("suction", "parallel-jaw"), default="suction",
                   help="the simulated arm's gripper (default: suction)")
    p.add_argument("--place-turns", type=int, help="place angles tried per action (default: 2 per trained angle "
                   "bin, 72 for 36 bins; fewer is faster)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from eqrobot.cli.errors import CliError, require_task
    from eqrobot.io.atomic import atomic_write_json
    from eqrobot.policy.transporter.agent import TransporterAgent
    from eqrobot.policy.transporter.evaluate import evaluate, training_summary

    if not Path(args.ckpt).is_file():
        raise CliError(f"{args.ckpt}: checkpoint not found")
    if args.episodes < 1:
        raise CliError(f"--episodes must be at least 1, got {args.episodes}")
    if args.place_turns is not None and args.place_turns < 1:
        raise CliError(f"--place-turns must be at least 1, got {args.place_turns}")
    require_task(args.task)
    agent = TransporterAgent.load(args.ckpt, args.device, args.place_turns)
    trained_on = agent.meta.get("task")
    if trained_on and trained_on != args.task:
        raise CliError(f"{args.ckpt} was trained for task '{trained_on}', not '{args.task}'")
    evaluated = evaluate(agent, args.task, args.episodes, gripper=args.gripper)
    result = {**training_summary(agent), "place_turns": len(agent.angles), **evaluated, "ckpt": args.ckpt}
    if args.out:
        atomic_write_json(args.out, result)
    print(f"{result['task']}: success {100 * result['success_rate']:.1f} % over {result['episodes']} episodes, "
          f"mean reward {result['mean_reward']:.3f} (by Ravens' metric {result['ravens_reward']:.3f})")
    return 0
