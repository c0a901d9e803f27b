"""Convert a rigid transform between representations, optionally inverting it.

Give the rotation one way (quaternion x y z w, roll-pitch-yaw, axis-angle, a 4x4
matrix or a text file holding one) and an optional translation. Prints the
translation, the quaternion (x, y, z, w), roll/pitch/yaw (fixed X-Y-Z axes,
R = Rz(yaw) Ry(pitch) Rx(roll)), the rotation vector and the 4x4 matrix.

examples:
  eqrobot transform --rpy 0 0 90 --degrees --translation 1 0 0
  eqrobot transform --quat 0 0 0.7071068 0.7071068 --invert --json
  eqrobot transform --file T.txt
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from eqrobot.cli.errors import CliError

HELP = "convert a pose between quaternion / RPY / axis-angle / 4x4 matrix"


def add_arguments(p: argparse.ArgumentParser) -> None:
    rot = p.add_mutually_exclusive_group(required=True)
    rot.add_argument("--quat", nargs=4, type=float, metavar=("X", "Y", "Z", "W"))
    rot.add_argument("--rpy", nargs=3, type=float, metavar=("ROLL", "PITCH", "YAW"))
    rot.add_argument("--axis-angle", nargs=3, type=float, metavar=("X", "Y", "Z"),
                     help="rotation vector: angle times unit axis")
    rot.add_argument("--matrix", nargs=16, type=float, metavar="M", help="4x4 matrix, row-major")
    rot.add_argument("--file", help="text file with a 4x4 matrix (whitespace separated)")
    p.add_argument("--translation", nargs=3, type=float, default=None, metavar=("X", "Y", "Z"))
    p.add_argument("--degrees", action="store_true", help="angles of --rpy / --axis-angle are in degrees")
    p.add_argument("--invert", action="store_true", help="print the inverse transform")
    p.add_argument("--json", action="store_true", help="print JSON")


def _read_matrix_file(path: str) -> np.ndarray:
    try:
        values = np.loadtxt(path, dtype=np.float64)
    except OSError as e:
        raise CliError(f"{path}: cannot read ({e.strerror or e})") from e
    except ValueError as e:
        raise CliError(f"{path}: not a whitespace-separated numeric matrix ({e})") from e
    if values.size != 16:
        raise CliError(f"{path}: expected 16 numbers (a 4x4 matrix), found {values.size}")
    return values.reshape(4, 4)


def parse_transform(args: argparse.Namespace) -> np.ndarray:
    from eqrobot.geometry import (
        axis_angle_to_matrix,
        check_transform,
        make_transform,
        quat_to_matrix,
        rpy_to_matrix,
    )

    scale = np.pi / 180.0 if args.degrees else 1.0
    if args.quat is not None:
        T = make_transform(quat_to_matrix(args.quat))
    elif args.rpy is not None:
        T = make_transform(rpy_to_matrix(np.asarray(args.rpy) * scale))
    elif args.axis_angle is not None:
        T = make_transform(axis_angle_to_matrix(np.asarray(args.axis_angle) * scale))
    else:
        T = np.asarray(args.matrix).reshape(4, 4) if args.matrix is not None else _read_matrix_file(args.file)
        try:
            T = check_transform(T, atol=1e-4, name="matrix")
        except ValueError as e:
            raise CliError(str(e)) from e
    if args.translation is not None:
        T[:3, 3] = args.translation
    return T


def describe(T: np.ndarray) -> dict:
    from eqrobot.geometry import matrix_to_axis_angle, matrix_to_quat, matrix_to_rpy

    R = T[:3, :3]
    rotvec = matrix_to_axis_angle(R)
    return {
        "translation": T[:3, 3].tolist(),
        "quaternion_xyzw": matrix_to_quat(R).tolist(),
        "rpy_deg": np.degrees(matrix_to_rpy(R)).tolist(),
        "axis_angle_rad": rotvec.tolist(),
        "angle_deg": float(np.degrees(np.linalg.norm(rotvec))),
        "matrix": T.tolist(),
    }


def run(args: argparse.Namespace) -> int:
    from eqrobot.geometry import invert

    T = parse_transform(args)
    if args.invert:
        T = invert(T)
    d = describe(T)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0

    def fmt(values) -> str:
        return " ".join(f"{v: .6f}" for v in values)

    print(f"translation      {fmt(d['translation'])}")
    print(f"quaternion xyzw  {fmt(d['quaternion_xyzw'])}")
    print(f"rpy (deg)        {fmt(d['rpy_deg'])}")
    print(f"axis-angle (rad) {fmt(d['axis_angle_rad'])}   angle {d['angle_deg']:.4f} deg")
    print("matrix")
    for row in d["matrix"]:
        print(f"  {fmt(row)}")
    return 0
