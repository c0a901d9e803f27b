"""Train a capability's model. Progress bars, periodic validation, atomic checkpoints;
re-running the same command resumes from the last checkpoint.

examples:
  eqrobot train registration --out runs/registration --steps 3000
"""

from __future__ import annotations

import argparse

HELP = "train a model (registration)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("capability", choices=("registration",))
    p.add_argument("--out", required=True, help="run folder: checkpoints, history.json, training.png")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--pairs", type=int, default=300, help="training pairs (partial views of training meshes)")
    p.add_argument("--val-pairs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from eqrobot.perception.registration.train import TrainConfig, summary, train

    cfg = TrainConfig(train_pairs=args.pairs, val_pairs=args.val_pairs, steps=args.steps, seed=args.seed)
    best = train(args.out, cfg)
    print(f"best weights: {best} {summary(best)}")
    return 0
