"""Plan a path on a map (ROS map_server YAML + image) from a start to a goal, both in metres
in the map frame, and write it as JSON (keys path, length_m, reachable, planner, time_s).

examples:
  eqrobot plan --map maps/office.yaml --start 1.0 2.0 --goal 5.5 3.2 --out path.json --plot path.png
  eqrobot plan --map maps/office.yaml --start 1.0 2.0 --goal 5.5 3.2 --planner dijkstra
  eqrobot plan --generate maze --size 48 --start 0.35 0.35 --goal 3.95 3.95 --plot maze.png
"""

from __future__ import annotations

import argparse

HELP = "plan a path on a map (learned equivariant planner, GNN, Dijkstra or A*)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--map", help="map_server YAML file (image, resolution, origin, thresholds)")
    source.add_argument("--generate", choices=("obstacles", "maze", "rooms"),
                        help="plan on a generated map instead (see --size, --seed)")
    p.add_argument("--size", type=int, default=48, help="generated map: cells a side (0.1 m cells)")
    p.add_argument("--seed", type=int, default=0, help="generated map: seed")
    p.add_argument("--start", type=float, nargs=2, required=True, metavar=("X", "Y"), help="metres, map frame")
    p.add_argument("--goal", type=float, nargs=2, required=True, metavar=("X", "Y"), help="metres, map frame")
    p.add_argument("--planner", choices=("eq", "gnn", "dijkstra", "astar"), default="eq",
                   help="eq: the learned E(2)-equivariant planner (default, shipped weights); gnn: the plain "
                        "learned baseline; dijkstra, astar: exact")
    p.add_argument("--weights", help="planner weights (default: models/navigation/mpvin-<planner>.safetensors)")
    p.add_argument("--clearance", type=float, help="metres to keep from obstacles (default: the weights' graph "
                                                   "setting, 0.15)")
    p.add_argument("--out", help="path JSON")
    p.add_argument("--plot", help="PNG of the map, the graph and the path")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")


def run(args: argparse.Namespace) -> int:
    from eqrobot.cli.errors import CliError
    from eqrobot.io.atomic import atomic_write_json
    from eqrobot.io.map_files import read_map
    from eqrobot.policy.navigation.maps import generate
    from eqrobot.policy.navigation.planner import Planner, PlanningError

    m = read_map(args.map) if args.map else generate(args.generate, args.size, args.seed)
    planner = Planner(args.planner, args.weights, device=args.device)
    if args.clearance is not None:
        planner.graph_config.clearance = args.clearance
    planner.set_map(m)
    try:
        plan = planner.plan(args.start, args.goal)
    except PlanningError as e:
        raise CliError(str(e)) from e
    if args.out:
        atomic_write_json(args.out, plan.to_json())
    if args.plot:
        from eqrobot.policy.navigation.plot import plot_plan

        title = f"{args.planner}: {plan.length_m:.2f} m" if plan.reachable else f"{args.planner}: {plan.reason}"
        plot_plan(args.plot, m, planner.graph, plan.path, args.start, args.goal, title)
    if not plan.reachable:
        print(f"no path: {plan.reason}")
        return 1
    print(f"{args.planner}: {len(plan.path)} waypoints, {plan.length_m:.2f} m, planned in {1000 * plan.time_s:.1f} ms "
          f"on a graph of {planner.graph.num_nodes} nodes")
    return 0
