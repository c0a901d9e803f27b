"""Register point clouds: one pair, a batch of pairs, or consecutive scans of a ROS 2 bag.

The transform maps SRC into TGT's frame. Files: .ply .pcd .xyz .xyzn .pts .npy .npz.

examples:
  eqrobot register scan_a.ply scan_b.ply --out result.json --save-aligned aligned.ply
  eqrobot register a.pcd b.pcd --method fpfh --voxel 0.02
  eqrobot register --pairs pairs.csv --out results.jsonl      # columns: source,target
  eqrobot register --bag run1/ --topic /points --out traj.txt --map map.ply
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

from eqrobot.cli.errors import CliError

HELP = "register point clouds (a pair, a batch, or a bag) with eq / fpfh / fgr / icp"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", nargs="?", help="source cloud file (moved onto the target)")
    p.add_argument("target", nargs="?", help="target cloud file")
    p.add_argument("--pairs", help="CSV with columns source,target (paths relative to the CSV)")
    p.add_argument("--bag", help="ROS 2 bag (folder or .mcap) to register scan by scan")
    p.add_argument("--topic", help="PointCloud2 topic in the bag")
    p.add_argument("--method", default="eq", choices=("eq", "fpfh", "fgr", "icp"))
    p.add_argument("--descriptor", default="learned", choices=("learned", "fused", "fpfh"),
                   help="eq only: the learned descriptor (default, fastest), learned + FPFH side by side "
                        "(slower; more robust on dense scans) or FPFH alone")
    p.add_argument("--voxel", type=float, help="voxel size in metres (default: estimated from the data)")
    p.add_argument("--init", help="text file with an initial 4x4 guess (used by icp; tried by the others)")
    p.add_argument("--weights", help="descriptor weights (default: the shipped ones)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--out", help="result.json (pair), results.jsonl (--pairs) or a TUM trajectory (--bag)")
    p.add_argument("--save-aligned", help="write the source moved into the target frame (pair mode)")
    p.add_argument("--map", help="write the merged, voxelised map (bag mode)")


def _registrar(args):
    from eqrobot.perception.registration.registrar import Registrar, RegistrarConfig

    try:
        return Registrar(RegistrarConfig(method=args.method, voxel=args.voxel, weights=args.weights,
                                         descriptor=args.descriptor, device=args.device))
    except FileNotFoundError as e:
        raise CliError(f"descriptor weights not found: {e}") from e


def _read(path: str):
    from eqrobot.io.cloud_files import read_cloud

    return read_cloud(path)


def _check_cloud(cloud, path: str) -> None:
    if len(cloud) < 30:
        raise CliError(f"{path}: only {len(cloud)} valid points, need at least 30")


def _read_init(path: str | None) -> np.ndarray | None:
    if path is None:
        return None
    from eqrobot.cli.transform import _read_matrix_file
    from eqrobot.geometry import check_transform

    try:
        return check_transform(_read_matrix_file(path), atol=1e-4, name=path)
    except ValueError as e:
        raise CliError(str(e)) from e


def _register_files(reg, src_path: str, tgt_path: str, init):
    src, tgt = _read(src_path), _read(tgt_path)
    _check_cloud(src, src_path)
    _check_cloud(tgt, tgt_path)
    try:
        return src, reg(src, tgt, init)
    except ValueError as e:
        raise CliError(f"{src_path} -> {tgt_path}: {e}") from e


def run_pair(args) -> int:
    from eqrobot.geometry import apply, apply_rotation
    from eqrobot.geometry.types import PointCloud
    from eqrobot.io.atomic import atomic_write_json
    from eqrobot.io.cloud_files import write_cloud

    reg = _registrar(args)
    src, result = _register_files(reg, args.source, args.target, _read_init(args.init))
    T = result.transform
    print(f"method {result.method}  converged {result.converged}  fitness {result.fitness:.3f}  "
          f"inlier_rmse {result.inlier_rmse:.4g}  off-surface {result.plane_rmse:.4g}  inliers {result.num_inliers}  "
          f"time {result.time_s:.3f} s")
    print("transform (source -> target frame):")
    for row in T:
        print("  " + " ".join(f"{v: .6f}" for v in row))
    if not result.converged:
        print("warning: weak evidence for this transform (converged = false)", file=sys.stderr)
    if args.out:
        atomic_write_json(args.out, {"source": args.source, "target": args.target, **result.to_json()})
        print(f"wrote {args.out}")
    if args.save_aligned:
        normals = None if src.normals is None else apply_rotation(T, src.normals)
        write_cloud(args.save_aligned, PointCloud(apply(T, src.points), src.frame_id, src.stamp_ns,
                                                  src.colors, normals, src.intensity))
        print(f"wrote {args.save_aligned}")
    return 0


def _read_pairs_csv(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        raise CliError(f"{path}: pairs file not found")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"source", "target"} <= set(rows[0]):
        raise CliError(f"{path}: needs a header with columns 'source' and 'target'")
    base = path.parent

    def resolve(p: str) -> str:
        return str(p if os.path.isabs(p) else base / p)

    return [(resolve(r["source"]), resolve(r["target"])) for r in rows]


def _done_pairs(out: Path) -> set[tuple[str, str]]:
    """Pairs already in a results file; a torn last line (killed run) is cut off."""
    if not out.exists():
        return set()
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        out.write_bytes(data)
    done = set()
    for line in data.decode().splitlines():
        try:
            row = json.loads(line)
            done.add((row["source"], row["target"]))
        except (json.JSONDecodeError, KeyError):
            continue
    return done


def run_batch(args) -> int:
    from tqdm import tqdm

    from eqrobot.progress import progress

    if not args.out:
        raise CliError("--pairs needs --out results.jsonl")
    pairs = _read_pairs_csv(Path(args.pairs))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _done_pairs(out)
    todo = [p for p in pairs if p not in done]
    if done:
        print(f"resuming: {len(pairs) - len(todo)} of {len(pairs)} pairs already in {out}")
    reg = _registrar(args)
    failures = 0
    with out.open("a") as f:
        for src, tgt in progress(todo, desc="registering", unit="pair"):
            try:
                _, result = _register_files(reg, src, tgt, None)
                row = {"source": src, "target": tgt, "status": "ok", **result.to_json()}
            except (CliError, ValueError, FileNotFoundError) as e:
                failures += 1
                row = {"source": src, "target": tgt, "status": "error", "error": str(e)}
                tqdm.write(f"error: {e}")
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
    print(f"{len(todo) - failures} registered, {failures} failed, {len(done)} skipped -> {out}")
    return 1 if failures else 0


def run_bag(args) -> int:
    from eqrobot.perception.registration.odometry import run_odometry
    from eqrobot.ros.bags import iter_clouds

    if not args.topic or not args.out:
        raise CliError("--bag needs --topic and --out traj.txt")
    reg = _registrar(args)
    summary = run_odometry(reg, iter_clouds(args.bag, args.topic), args.out, args.map)
    print(f"{summary['scans']} scans, {summary['registered']} registered, {summary['weak']} weak "
          f"(constant-velocity fallback) -> {args.out}" + (f", map -> {args.map}" if args.map else ""))
    return 0


def run(args: argparse.Namespace) -> int:
    modes = [bool(args.source or args.target), bool(args.pairs), bool(args.bag)]
    if sum(modes) != 1:
        raise CliError("give either SRC TGT, or --pairs pairs.csv, or --bag BAG --topic TOPIC")
    if args.pairs:
        return run_batch(args)
    if args.bag:
        return run_bag(args)
    if not (args.source and args.target):
        raise CliError("pair mode needs both SRC and TGT")
    return run_pair(args)
