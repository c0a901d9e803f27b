"""Train a capability's model. Progress bars, periodic validation, atomic checkpoints;
re-running the same command resumes from the last checkpoint.

examples:
  eqrobot train transporter --data data/bi-train --demos 1 --out runs/bi-1 --steps 1000 \
      --task block-insertion --validate-every 250 --agent eq
  eqrobot train registration --out runs/registration --steps 5000 --pairs 400
  eqrobot train registration --select runs/registration     # best snapshot on held-out dense views
  eqrobot train registration --calibrate models/registration/descriptor.safetensors --val-pairs 100
  eqrobot train nav --maps 100 --size 32 --out runs/nav-eq               # E(2)-equivariant MP-VIN
  eqrobot train nav --maps 100 --size 32 --planner gnn --out runs/nav-gnn
  eqrobot dataset pose --out data/symsol-train --n 50000
  eqrobot train pose --data data/symsol-train --out runs/pose-eq --steps 20000   # SO(3)-equivariant
  eqrobot train pose --data data/symsol-train --fraction 0.1 --model base --out runs/pose-base-10
  eqrobot train pose --data data/symsol2 --start-from models/pose/pose-eq.safetensors --lr 3e-4 --out runs/symsol2
"""

from __future__ import annotations

import argparse

HELP = "train a model (registration, transporter, nav, pose)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("capability", choices=("registration", "transporter", "nav", "pose"))
    p.add_argument("--out", help="run folder: checkpoints, history.json, training.png")
    p.add_argument("--calibrate", metavar="WEIGHTS",
                   help="only (re)calibrate the converged thresholds of WEIGHTS on --val-pairs held-out pairs")
    p.add_argument("--select", metavar="RUN_DIR",
                   help="only score the snapshots of RUN_DIR on held-out depth-camera-like views and name the best")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--pairs", type=int, default=300, help="training pairs (partial views of training meshes)")
    p.add_argument("--val-pairs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--neighbours", type=int, default=None, help="points per descriptor patch (default 64)")
    p.add_argument("--stride", type=int, default=None,
                   help="take every STRIDE-th of the nearest points: wider patches for the same cost (default 3)")
    p.add_argument("--radius-voxels", type=float, default=None, help="patch radius in voxels (default 10)")
    p.add_argument("--hidden", type=int, default=None, help="width of the descriptor network (default 64)")
    t = p.add_argument_group("transporter")
    t.add_argument("--data", help="transporter: folder of episodes (docs/episode_format.md); pose: a set from "
                                  "`eqrobot dataset pose` (or a packed .npz)")
    t.add_argument("--agent", choices=("eq", "base"), default="eq",
                   help="eq: C_n-steerable networks (default); base: the original Transporter")
    t.add_argument("--demos", type=int, default=None, help="use the first N episodes (default: all)")
    t.add_argument("--task", help="simulated task to validate on (test seeds), e.g. block-insertion")
    t.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: 3e-4 eq, 1e-4 base)")
    t.add_argument("--validate-every", type=int, default=None,
                   help="steps between validations (transporter: in the simulator, default none; nav: default 250)")
    t.add_argument("--val-episodes", type=int, default=10)
    t.add_argument("--device", default="auto", help="auto (a GPU when there is one) | cpu | cuda[:N]")
    n = p.add_argument_group("nav")
    n.add_argument("--maps", type=int, default=100, help="generated training maps (obstacles, mazes, rooms)")
    n.add_argument("--size", type=int, default=32, help="cells a side of the training maps (0.1 m cells)")
    n.add_argument("--planner", choices=("eq", "gnn"), default="eq",
                   help="eq: E(2)-equivariant MP-VIN (default); gnn: the plain GNN-VIN baseline")
    o = p.add_argument_group("pose")
    o.add_argument("--model", choices=("eq", "base"),
                   help="eq: image -> sphere -> SO(3) spectral layers (default); base: the same CNN with an MLP head")
    o.add_argument("--start-from", metavar="WEIGHTS",
                   help="fine-tune these weights (e.g. models/pose/pose-eq.safetensors) instead of starting afresh; "
                        "their architecture is kept")
    o.add_argument("--val-data", help="a held-out set scored every --validate-every steps (default 2000)")
    o.add_argument("--fraction", type=float, default=1.0, help="share of --data to train on (the first images)")
    o.add_argument("--batch", type=int, default=32)
    o.add_argument("--image-size", type=int, help="side the images are resized to (default 128)")
    o.add_argument("--turn-images", action="store_true",
                   help="turn each training image by a random angle about its centre (and its ground truth with it); "
                        "right for centred objects lit along the camera axis, as the renders are")


def run(args: argparse.Namespace) -> int:
    if args.capability == "transporter":
        return _run_transporter(args)
    if args.capability == "nav":
        return _run_nav(args)
    if args.capability == "pose":
        return _run_pose(args)
    return _run_registration(args)


def _run_pose(args: argparse.Namespace) -> int:
    from eqrobot.cli.errors import CliError
    from eqrobot.device import resolve_device
    from eqrobot.perception.pose.model import PoseModelConfig
    from eqrobot.perception.pose.train import PoseTrainConfig, train

    if not args.out or not args.data:
        raise CliError("--data and --out are required for training")
    validate_every = 2000 if args.validate_every is None else args.validate_every
    cfg = PoseTrainConfig(data=args.data, val_data=args.val_data or "", fraction=args.fraction, steps=args.steps,
                          batch=args.batch, seed=args.seed, validate_every=validate_every,
                          lr=args.lr if args.lr is not None else 1e-3, turn_images=args.turn_images,
                          start_from=args.start_from or "")
    asked = {k: v for k, v in (("kind", args.model), ("image_size", args.image_size)) if v is not None}
    model_cfg = PoseModelConfig(**asked) if asked or not args.start_from else None
    weights = train(args.out, cfg, model_cfg, resolve_device(args.device).device)
    print(f"weights: {weights}")
    return 0


def _run_nav(args: argparse.Namespace) -> int:
    from eqrobot.cli.errors import CliError
    from eqrobot.policy.navigation.model import NavModelConfig
    from eqrobot.policy.navigation.train import NavTrainConfig, train

    if not args.out:
        raise CliError("--out is required for training")
    validate_every = 250 if args.validate_every is None else args.validate_every
    try:
        cfg = NavTrainConfig(maps=args.maps, size=args.size, steps=args.steps, seed=args.seed,
                             validate_every=validate_every)
        weights = train(args.out, cfg, NavModelConfig(kind=args.planner))
    except ValueError as e:
        raise CliError(str(e)) from e
    print(f"weights: {weights}")
    return 0


def _run_transporter(args: argparse.Namespace) -> int:
    from pathlib import Path

    from eqrobot.cli.errors import CliError, require_task
    from eqrobot.policy.transporter.model import TransporterConfig
    from eqrobot.policy.transporter.train import TrainConfig, train

    if not args.data or not Path(args.data).is_dir():
        raise CliError(f"--data must be a folder of episodes, got {args.data}")
    if not args.out:
        raise CliError("--out is required for training")
    if args.task:
        require_task(args.task)
    cfg = TrainConfig(steps=args.steps, seed=args.seed, demos=args.demos, validate_every=args.validate_every or 0,
                      val_episodes=args.val_episodes, lr=args.lr, device=args.device)
    try:
        weights = train(args.data, args.out, cfg, TransporterConfig(agent=args.agent), task=args.task)
    except ValueError as e:
        raise CliError(str(e)) from e
    print(f"weights: {weights}")
    return 0


def _run_registration(args: argparse.Namespace) -> int:
    from pathlib import Path

    from eqrobot.cli.errors import CliError
    from eqrobot.perception.registration.model import DescriptorConfig
    from eqrobot.perception.registration.train import (
        TrainConfig,
        calibrate_acceptance,
        select_snapshot,
        summary,
        train,
        val_pairs,
    )

    if args.calibrate:
        if not Path(args.calibrate).is_file():
            raise CliError(f"{args.calibrate}: weights not found")
        print(calibrate_acceptance(Path(args.calibrate), val_pairs(args.val_pairs, args.seed + 1)))
        return 0
    if args.select:
        try:
            best, recalls = select_snapshot(args.select, args.val_pairs)
        except ValueError as e:
            raise CliError(str(e)) from e
        for name, recall in recalls.items():
            print(f"{name}: recall {recall:.3f}")
        print(f"best: {best}")
        return 0
    if not args.out:
        raise CliError("--out is required for training")

    cfg = TrainConfig(train_pairs=args.pairs, val_pairs=args.val_pairs, steps=args.steps, seed=args.seed)
    patch = {"neighbours": args.neighbours, "stride": args.stride, "radius_voxels": args.radius_voxels,
             "hidden": args.hidden}
    try:
        desc = DescriptorConfig(**{k: v for k, v in patch.items() if v is not None})
    except ValueError as e:
        raise CliError(str(e)) from e
    best = train(args.out, cfg, desc)
    print(f"best weights: {best} {summary(best)}")
    return 0
