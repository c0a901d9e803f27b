"""Generate a dataset: rendered, resumable (re-running the command renders only what is
missing), atomic files.

examples:
  eqrobot dataset pose --out data/symsol-train --n 5000                 # SYMSOL-I-style, 128 x 128
  eqrobot dataset pose --out data/symsol-test --n 500 --seed 1000000 --shapes tet,cube
  eqrobot dataset pose --out data/unseen --n 200 --shapes duck,teddy,object-900,object-901   # asymmetric objects
  eqrobot dataset pose --out data/objects-train --n 27000 --shapes object-000..799   # a range of random_urdfs
  eqrobot dataset pose --out data/symsol2 --n 3000 --shapes tetX,cylO,sphX      # SYMSOL-II-style marked solids
  eqrobot dataset pose --out data/my-part --n 6000 --shapes my_part.stl         # your own part (its file's frame)
  eqrobot dataset pose --out data/families --n 12000 --shapes mug-000..079,chair-000..079   # classes' frames
"""

from __future__ import annotations

import argparse

HELP = "generate a dataset (pose: SYMSOL-I-style renders of symmetric solids)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("pose",))
    p.add_argument("--out", required=True, help="folder of .npz samples (docstring of eqrobot.perception.pose.data)")
    p.add_argument("--n", type=int, required=True, help="number of samples")
    p.add_argument("--seed", type=int, default=0, help="sample i is drawn from seed + i")
    p.add_argument("--shapes", default="tet,cube,icosa,cone,cyl",
                   help="comma-separated solids (tet, cube, icosa, cone, cyl), marked solids (tetX, cylO, sphX) or "
                        "pybullet_data objects (duck, teddy, object-000 .. object-999; object-A..B: a range), "
                        "instances of object families (mug, chair, hammer, lamp: e.g. mug-000..079) or mesh files "
                        "(.obj, .stl, .ply, ...: your own part, in its file's frame), taken in turn")
    p.add_argument("--size", type=int, default=128, help="image side in pixels")


def run(args: argparse.Namespace) -> int:
    from eqrobot.perception.pose.data import write_dataset

    shapes = tuple(name for s in args.shapes.split(",") if s.strip() for name in _expand(s.strip()))
    written = write_dataset(args.out, args.n, args.seed, shapes, args.size)
    print(f"{args.out}: {written} samples rendered, {args.n - written} were already there")
    return 0


def _expand(name: str) -> tuple[str, ...]:
    """``object-A..B`` -> the renderable random_urdfs objects A..B; ``<family>-A..B`` -> those
    instances; a mesh file -> its absolute path (samples name their shape, and are scored from
    anywhere); any other name as it is."""
    from pathlib import Path

    from eqrobot.cli.errors import CliError
    from eqrobot.sim.families import FAMILIES, instances
    from eqrobot.sim.symsol import mesh_file, random_objects

    if mesh_file(name):
        return (str(Path(name).resolve()),)
    prefix, _, span = name.partition("-")
    if ".." not in span or prefix not in ("object", *FAMILIES):
        return (name,)
    first, _, last = span.partition("..")
    last = last.removeprefix(f"{prefix}-")
    if not (first.isdigit() and last.isdigit() and int(first) <= int(last)):
        raise CliError(f"--shapes: a range is {prefix}-A..B with numbers A <= B, got {name}")
    shapes = random_objects(int(first), int(last)) if prefix == "object" else instances(prefix, int(first), int(last))
    if not shapes:
        raise CliError(f"--shapes: nothing to render in {name} (numbers run from 000 to 999)")
    return shapes
