"""Benchmarks: the protocol, ours side by side with the reference methods in one run,
JSON + a markdown table + plots under --out. Numbers name the machine they ran on.

examples:
  eqrobot bench registration --out bench/            # 100 pairs per set
  eqrobot bench registration --out /tmp/b --pairs 20
  eqrobot bench transporter --out bench/transporter  # resumable: finished runs are kept
  eqrobot bench transporter --out /tmp/t --tasks block-insertion --demos 1 --agents eq --steps 200 --episodes 10
  eqrobot bench transporter --out bench/red --tasks place-red-in-green --demos 1 --runs 3 --steps 500 --episodes 50
  eqrobot bench nav --out bench/nav                  # eq and gnn at 100 and 1000 maps vs Dijkstra (~20 min)
  eqrobot bench nav --out /tmp/n --train-maps 20 --steps 200 --test-maps 6 --follow 2 --timing-nodes 1000
  eqrobot bench pose --out bench/pose                # eq and base at 100 % and 10 % of 50,000 renders
  eqrobot bench pose --out /tmp/p --train-images 500 --steps 100 --test-images 100 --image-size 64
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run a benchmark (registration, transporter, nav, pose) and write JSON, a markdown table and plots"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("capability", choices=("registration", "transporter", "nav", "pose"))
    p.add_argument("--out", default="bench", help="output folder (default: bench/)")
    p.add_argument("--pairs", type=int, default=100, help="registration: pairs per set")
    t = p.add_argument_group("transporter")
    t.add_argument("--tasks", help="comma-separated tasks (default: block-insertion, place-red-in-green, "
                                   "stack-block-pyramid)")
    t.add_argument("--demos", default="1,10", help="comma-separated demonstration counts (default: 1,10)")
    t.add_argument("--agents", default="eq,base", help="comma-separated agents (default: eq,base)")
    t.add_argument("--steps", type=int, default=None,
                   help="training steps per run (transporter 1000, nav 3000, pose 20000)")
    t.add_argument("--episodes", type=int, default=100, help="test episodes per run")
    t.add_argument("--runs", type=int, default=1,
                   help="training runs per cell (default 1); run r > 0 draws its demonstrations at random "
                        "(seed r) from the first 10 and trains with seed r; the table shows mean ± std")
    n = p.add_argument_group("nav")
    n.add_argument("--train-maps", default="100,1000", help="comma-separated training-set sizes (maps)")
    n.add_argument("--planners", default="eq,gnn", help="comma-separated learned planners (eq, gnn)")
    n.add_argument("--test-maps", type=int, default=48, help="held-out maps per setting (4 goals each)")
    n.add_argument("--timing-nodes", default="1000,5000,20000", help="comma-separated graph sizes to time")
    n.add_argument("--follow", type=int, default=20, help="eq plans followed by the simulated robot (0: none)")
    o = p.add_argument_group("pose")
    o.add_argument("--train-images", type=int, default=50000, help="training renders (100 %%)")
    o.add_argument("--test-images", type=int, default=1000, help="test renders (fixed seed, the 5 solids in turn)")
    o.add_argument("--fractions", default="1.0,0.1", help="comma-separated shares of the training renders")
    o.add_argument("--kinds", default="eq,base", help="comma-separated models (eq, base)")
    o.add_argument("--image-size", type=int, default=128, help="image side the models are trained at")
    o.add_argument("--object-images", type=int, default=27000,
                   help="renders of random_urdfs 000-799 to train the unseen-object cells on (0: no object test)")
    o.add_argument("--object-kinds", default="eq", help="comma-separated models for the unseen-object cells")
    o.add_argument("--device", default="auto", help="auto (a GPU when there is one) | cpu | cuda[:N]")
    t.add_argument("--finished-only", action="store_true",
                   help="train nothing: tabulate the runs already evaluated under --out (others show as -)")


def machine_description(library: str = "open3d") -> str:
    """The machine and the versions a benchmark's numbers depend on: torch and ``library``."""
    from eqrobot.cli.info import collect

    info = collect()
    gpu = f", GPU {info['gpu']}" if "gpu" in info else ""
    return (f"{info['cpu_cores']} CPU cores, {info['platform']}, torch {info['packages']['torch']}, "
            f"{library} {info['packages'][library]}, device {info['device_auto']}{gpu}")


def run(args: argparse.Namespace) -> int:
    if args.capability == "transporter":
        return _run_transporter(args)
    if args.capability == "nav":
        return _run_nav(args)
    if args.capability == "pose":
        return _run_pose(args)
    from eqrobot.perception.registration.evaluate import run_benchmark

    machine = machine_description()
    run_benchmark(args.out, args.pairs, machine)
    print((Path(args.out) / "registration.md").read_text())
    print(f"wrote {args.out}/registration.json, registration.md, registration.png")
    return 0


def _run_transporter(args: argparse.Namespace) -> int:
    from eqrobot.cli.errors import CliError, require_task
    from eqrobot.policy.transporter.benchmark import BenchConfig, run_benchmark

    cfg = BenchConfig()
    tasks = tuple(t.strip() for t in args.tasks.split(",")) if args.tasks else cfg.tasks
    for task in tasks:
        require_task(task)
    agents = _names(args.agents, "--agents", ("eq", "base"))
    try:
        demos = tuple(int(n) for n in args.demos.split(","))
    except ValueError as e:
        raise CliError(f"--demos takes comma-separated whole numbers, got {args.demos}") from e
    args.steps = 1000 if args.steps is None else args.steps
    if min(demos) < 1 or args.steps < 1 or args.episodes < 1 or args.runs < 1:
        raise CliError("--demos, --steps, --episodes and --runs must be at least 1")
    cfg = BenchConfig(tasks=tasks, demos=demos, agents=agents, steps=args.steps, episodes=args.episodes,
                      runs=args.runs, finished_only=args.finished_only)
    run_benchmark(args.out, cfg, machine_description("escnn"))
    print((Path(args.out) / "transporter.md").read_text())
    print(f"wrote {args.out}/transporter.json, transporter.md, transporter.png")
    return 0


def _numbers(text: str, option: str) -> tuple[int, ...]:
    from eqrobot.cli.errors import CliError

    try:
        numbers = tuple(int(n) for n in text.split(","))
    except ValueError as e:
        raise CliError(f"{option} takes comma-separated whole numbers, got {text}") from e
    if min(numbers) < 1:
        raise CliError(f"{option} takes positive numbers, got {text}")
    return numbers


def _run_nav(args: argparse.Namespace) -> int:
    from eqrobot.cli.errors import CliError
    from eqrobot.policy.navigation.benchmark import NavBenchConfig, run_benchmark

    planners = _names(args.planners, "--planners", ("eq", "gnn"))
    if (args.steps is not None and args.steps < 1) or args.test_maps < 1 or args.follow < 0:
        raise CliError("--steps and --test-maps must be at least 1, --follow at least 0")
    cfg = NavBenchConfig(planners=planners, train_maps=_numbers(args.train_maps, "--train-maps"),
                         steps=3000 if args.steps is None else args.steps, test_maps=args.test_maps,
                         timing_nodes=_numbers(args.timing_nodes, "--timing-nodes"), follow_plans=args.follow)
    run_benchmark(args.out, cfg, machine_description("scipy"))
    print((Path(args.out) / "nav.md").read_text())
    print(f"wrote {args.out}/nav.json, nav.md, nav.png")
    return 0


def _run_pose(args: argparse.Namespace) -> int:
    from eqrobot.cli.errors import CliError
    from eqrobot.device import resolve_device
    from eqrobot.perception.pose.benchmark import PoseBenchConfig, run_benchmark

    kinds = _names(args.kinds, "--kinds", ("eq", "base"))
    object_kinds = _names(args.object_kinds, "--object-kinds", ("eq", "base"))
    try:
        fractions = tuple(float(f) for f in args.fractions.split(","))
    except ValueError as e:
        raise CliError(f"--fractions takes comma-separated numbers, got {args.fractions}") from e
    if not all(0 < f <= 1 for f in fractions) or args.train_images < 1 or args.test_images < 1 \
            or args.object_images < 0:
        raise CliError("--fractions must be in (0, 1], --train-images and --test-images at least 1, "
                       "--object-images at least 0")
    if args.steps is not None and args.steps < 1:
        raise CliError("--steps must be at least 1")
    cfg = PoseBenchConfig(kinds=kinds, fractions=fractions, train_images=args.train_images,
                          test_images=args.test_images, steps=20000 if args.steps is None else args.steps,
                          image_size=args.image_size, object_images=args.object_images, object_kinds=object_kinds)
    run_benchmark(args.out, cfg, machine_description("scipy"), resolve_device(args.device).device)
    print((Path(args.out) / "pose.md").read_text())
    print(f"wrote {args.out}/pose.json, pose.md, pose.png")
    return 0


def _names(text: str, flag: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated names, each one of ``allowed``; a one-line error naming ``flag`` otherwise."""
    from eqrobot.cli.errors import CliError

    names = tuple(n.strip() for n in text.split(","))
    if not set(names) <= set(allowed):
        raise CliError(f"{flag} takes {' and/or '.join(allowed)}, got {text}")
    return names
