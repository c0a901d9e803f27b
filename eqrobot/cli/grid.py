"""Rotation grids: print their size and spacing, optionally save them.

SO(3) grids are HEALPix-Hopf grids with 72 * 8^level cells (level 0..5: 72 ...
2,359,296); SO(2) grids are n equally spaced angles.

examples:
  eqrobot grid so3 --level 3 --out so3_level3.npy     # (36864, 3, 3) float32
  eqrobot grid so2 --n 36
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eqrobot.cli.errors import CliError

HELP = "show or save SO(3) / SO(2) grids and their spacing"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("group", choices=("so3", "so2"))
    p.add_argument("--level", type=int, default=3, help="SO(3) resolution level 0..5 (default 3)")
    p.add_argument("--n", type=int, default=36, help="SO(2) number of angles (default 36)")
    p.add_argument("--out", help="save the grid (.npy): rotation matrices for so3, angles (rad) for so2")


def run(args: argparse.Namespace) -> int:
    from eqrobot.geometry.grids import SO2Grid, SO3Grid
    from eqrobot.io.atomic import atomic_save_npy

    if args.group == "so3":
        if not 0 <= args.level <= 5:
            raise CliError(f"--level must be in 0..5, got {args.level}")
        grid = SO3Grid(args.level)
        data = grid.rotations
        print(f"SO(3) HEALPix-Hopf grid, level {grid.level}: {grid.size} cells, "
              f"mean spacing {grid.mean_spacing_deg:.2f} deg, covering radius {grid.covering_radius_deg:.2f} deg")
    else:
        if args.n < 1:
            raise CliError(f"--n must be >= 1, got {args.n}")
        g2 = SO2Grid(args.n)
        data = g2.angles
        print(f"SO(2) grid: {g2.n} angles, spacing {np.degrees(g2.spacing):.3f} deg")
    if args.out:
        atomic_save_npy(Path(args.out), np.asarray(data))
        print(f"wrote {args.out} {tuple(np.shape(data))}")
    return 0
