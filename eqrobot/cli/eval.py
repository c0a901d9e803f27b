"""Evaluate a trained model in the simulator and write the result as JSON.

examples:
  eqrobot eval transporter --task block-insertion --ckpt runs/bi-10/transporter.safetensors --episodes 100 \\
      --out result.json
  eqrobot eval nav --ckpt models/navigation/mpvin-eq.safetensors --out nav.json      # held-out maps
  eqrobot eval nav --ckpt models/navigation/mpvin-eq.safetensors --size 64 --rotated --out nav-64-rot.json
  eqrobot eval pose --out pose.json      # shipped weights, fresh SYMSOL-I-style test renders (fixed seed)
  eqrobot eval pose --ckpt runs/pose-eq/pose.safetensors --data data/symsol-test --out pose.json
  eqrobot eval pose --ckpt runs/objects-eq/pose.safetensors --data data/objects-test --lookalikes --out objects.json
"""

from __future__ import annotations

import argparse

HELP = "evaluate a trained model (transporter in the simulator; nav on held-out maps; pose on test renders)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("capability", choices=("transporter", "nav", "pose"))
    p.add_argument("--task", help="transporter: simulated task, e.g. block-insertion")
    p.add_argument("--ckpt", help="weights (transporter.safetensors, navigation.safetensors, pose.safetensors); "
                                   "pose: the shipped equivariant model when not given")
    p.add_argument("--episodes", type=int, default=100, help="test episodes (odd seeds 1, 3, ...)")
    p.add_argument("--out", help="result JSON (keys task, agent, demos, episodes, success_rate, mean_reward, "
                                  "ravens_reward)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--gripper", choices=("suction", "parallel-jaw"), default="suction",
                   help="the simulated arm's gripper (default: suction)")
    p.add_argument("--place-turns", type=int, help="place angles tried per action (default: 2 per trained angle "
                   "bin, 72 for 36 bins; fewer is faster)")
    n = p.add_argument_group("nav")
    n.add_argument("--maps", type=int, default=50, help="held-out generated test maps (4 goals each)")
    n.add_argument("--size", type=int, help="cells a side of the test maps (default: the training size)")
    n.add_argument("--rotated", action="store_true", help="turn every test map by a random angle (and shift it)")
    o = p.add_argument_group("pose")
    o.add_argument("--data", help="a set from `eqrobot dataset pose` (default: render --images test images, "
                                  "fixed seed)")
    o.add_argument("--images", type=int, default=500, help="test images rendered when no --data (the 5 solids in turn)")
    o.add_argument("--lookalikes", action="store_true",
                   help="objects from pybullet_data: count an estimate off by one of the object's look-alike turns "
                        "as right, and score the objects with none apart (as bench pose does)")


def run(args: argparse.Namespace) -> int:
    from eqrobot.cli.errors import CliError

    if args.capability == "pose":
        return _run_pose(args)
    if not args.ckpt:
        raise CliError(f"--ckpt is required to evaluate {args.capability}")
    if args.capability == "nav":
        return _run_nav(args)
    return _run_transporter(args)


def _run_pose(args: argparse.Namespace) -> int:
    import tempfile

    from eqrobot.device import resolve_device
    from eqrobot.io.atomic import atomic_write_json
    from eqrobot.perception.pose.data import load_arrays, write_test_set
    from eqrobot.perception.pose.evaluate import evaluate, evaluate_objects
    from eqrobot.perception.pose.predictor import default_weights
    from eqrobot.perception.pose.train import load_model

    ckpt = args.ckpt or str(default_weights())
    model, meta = load_model(ckpt, resolve_device(args.device).device)
    if args.data:
        arrays = load_arrays(args.data)
    else:
        with tempfile.TemporaryDirectory() as folder:
            arrays = load_arrays(write_test_set(folder, args.images))
    scores = (evaluate_objects if args.lookalikes else evaluate)(model, arrays)
    result = {"kind": meta["kind"], **scores, "ckpt": ckpt, "data": args.data or "rendered test set"}
    if args.out:
        atomic_write_json(args.out, result)
    print(f"{result['kind']}: log-likelihood {result['loglik']:.2f}, median error {result['median_err_deg']:.1f} deg, "
          f"Acc@15 {result['acc15']:.2f}, Acc@30 {result['acc30']:.2f} on {result['images']} images")
    for shape, r in result["per_shape"].items():
        print(f"  {shape:10s} log-likelihood {r['loglik']:6.2f}  median error {r['median_err_deg']:6.1f} deg")
    if "asymmetric" in result:
        r = result["asymmetric"]
        print(f"  {r['objects']} objects with no look-alike turn: median error {r['median_err_deg']:.1f} deg, "
              f"Acc@5 {r['acc5']:.2f}, Acc@15 {r['acc15']:.2f} on {r['images']} images")
        print(f"  up to half turns about their frames' axes: median error {r['axes']['median_err_deg']:.1f} deg, "
              f"Acc@5 {r['axes']['acc5']:.2f}, Acc@15 {r['axes']['acc15']:.2f}")
    for name, r in result.get("per_class", {}).items():
        print(f"  {name:10s} log-likelihood {r['loglik']:6.2f}  median error {r['median_err_deg']:6.1f} deg  "
              f"Acc@15 {r['acc15']:.2f}  ({r['images']} images)")
    return 0


def _run_nav(args: argparse.Namespace) -> int:
    from pathlib import Path

    from eqrobot.cli.errors import CliError
    from eqrobot.device import resolve_device
    from eqrobot.io.atomic import atomic_write_json
    from eqrobot.policy.navigation.data import TEST_SEED, make_problems
    from eqrobot.policy.navigation.evaluate import evaluate
    from eqrobot.policy.navigation.graph import GraphConfig
    from eqrobot.policy.navigation.train import load_model

    if not Path(args.ckpt).is_file():
        raise CliError(f"{args.ckpt}: checkpoint not found")
    if args.maps < 1:
        raise CliError(f"--maps must be at least 1, got {args.maps}")
    device = resolve_device(args.device).device
    model, meta = load_model(args.ckpt, device)
    size = args.size or meta["train"]["size"]
    problems = make_problems(args.maps, size, TEST_SEED, 4, GraphConfig(**meta["graph"]), desc="test maps")
    result = {"planner": meta["kind"], "size": size, "trained_maps": meta["train"]["maps"],
              "trained_size": meta["train"]["size"],
              **evaluate(model, problems, rotated=args.rotated, device=device), "ckpt": args.ckpt}
    if args.out:
        atomic_write_json(args.out, result)
    print(f"{result['planner']}: %Opt {result['pct_opt']:.2f} %Succ {result['pct_succ']:.2f} over "
          f"{result['starts']} starts on {result['maps']} maps of {size} cells{' (rotated)' if args.rotated else ''}")
    return 0


def _run_transporter(args: argparse.Namespace) -> int:
    from pathlib import Path

    from eqrobot.cli.errors import CliError, require_task
    from eqrobot.io.atomic import atomic_write_json
    from eqrobot.policy.transporter.agent import TransporterAgent
    from eqrobot.policy.transporter.evaluate import evaluate, training_summary

    if not args.task:
        raise CliError("--task is required to evaluate a transporter")
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
