"""Train a capability's model. Progress bars, periodic validation, atomic checkpoints;
re-running the same command resumes from the last checkpoint.

examples:
  eqrobot train registration --out runs/registration --steps 5000 --pairs 400
  eqrobot train registration --calibrate models/registration/descriptor.safetensors --val-pairs 100
"""

from __future__ import annotations

import argparse

HELP = "train a model (registration)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("capability", choices=("registration",))
    p.add_argument("--out", help="run folder: checkpoints, history.json, training.png")
    p.add_argument("--calibrate", metavar="WEIGHTS",
                   help="only (re)calibrate the converged thresholds of WEIGHTS on --val-pairs held-out pairs")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--pairs", type=int, default=300, help="training pairs (partial views of training meshes)")
    p.add_argument("--val-pairs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from eqrobot.cli.errors import CliError
    from eqrobot.perception.registration.train import TrainConfig, calibrate_acceptance, summary, train, val_pairs

    if args.calibrate:
        if not Path(args.calibrate).is_file():
            raise CliError(f"{args.calibrate}: weights not found")
        print(calibrate_acceptance(Path(args.calibrate), val_pairs(args.val_pairs, args.seed + 1)))
        return 0
    if not args.out:
        raise CliError("--out is required for training")

    cfg = TrainConfig(train_pairs=args.pairs, val_pairs=args.val_pairs, steps=args.steps, seed=args.seed)
    best = train(args.out, cfg)
    print(f"best weights: {best} {summary(best)}")
    return 0
