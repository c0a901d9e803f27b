"""Predict an object's orientation from one image: a density over SO(3), its modes, a best
estimate with its uncertainty and, with depth and intrinsics, where the object is.

The object should be in the middle of the image (a non-square image is cut to its centred
square), or inside --roi (a detector's box: the square around it is used, and with
--intrinsics the estimate is turned back from the view towards the box into the camera's
frame). Rotations are in the camera's optical frame (x right, y down, z forward).

examples:
  eqrobot pose --image cube.png --out pose.json --plot density.png
  eqrobot pose --image rgb.png --depth depth.png --intrinsics camera_info.yaml --out pose.json
  eqrobot pose --image rgb.png --ckpt runs/pose-eq/pose.safetensors --modes 3 --out pose.json
  eqrobot pose --image scene.png --intrinsics camera_info.yaml --roi 410,220,120,96 --out pose.json

pose.json: rotation (3x3), quaternion_xyzw, modes [{rotation, quaternion_xyzw, mass}],
covariance_rad2 (3x3, rotation vector about the camera axes), uncertainty_deg,
translation_m (centre of the visible surface, or null), view_rotation (identity unless --roi),
time_s.
"""

from __future__ import annotations

import argparse

HELP = "predict an object's orientation (a density over SO(3)) from one image"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", required=True, help="RGB image (PNG, JPEG, ...)")
    p.add_argument("--depth", help="depth: 16-bit PNG in millimetres or .npy in metres (needs --intrinsics)")
    p.add_argument("--intrinsics", help="camera_info YAML (camera_matrix.data or K)")
    p.add_argument("--depth-window", type=float, metavar="M",
                   help="use only depth within M metres of the depth at the image centre for the translation "
                        "(leaves out a table or wall behind the object; default: all depth pixels)")
    p.add_argument("--roi", metavar="X,Y,W,H",
                   help="the object's box in pixels (top-left corner, width, height); default: the centred square")
    p.add_argument("--ckpt", help="pose weights (default: the shipped equivariant model)")
    p.add_argument("--out", help="pose.json")
    p.add_argument("--plot", help="density on a Mollweide map (PNG)")
    p.add_argument("--modes", type=int, default=5, help="how many modes to report")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one) | cpu | cuda[:N]")


def run(args: argparse.Namespace) -> int:
    from eqrobot.cli.errors import CliError
    from eqrobot.io.atomic import atomic_write_json
    from eqrobot.io.image_files import read_depth, read_intrinsics, read_rgb
    from eqrobot.perception.pose.predictor import PosePredictor, check_image

    if (args.depth is None) != (args.intrinsics is None):
        raise CliError("--depth and --intrinsics go together (the translation needs both)")
    if args.modes < 1:
        raise CliError(f"--modes must be at least 1, got {args.modes}")
    roi = _roi(args.roi) if args.roi else None
    rgb = check_image(read_rgb(args.image))
    depth = read_depth(args.depth) if args.depth else None
    intrinsics = read_intrinsics(args.intrinsics) if args.intrinsics else None
    predictor = PosePredictor(args.ckpt, args.device, args.modes, args.depth_window)
    estimate = predictor(rgb, depth, intrinsics, roi)
    if args.out:
        atomic_write_json(args.out, estimate.to_json())
    if args.plot:
        from eqrobot.geometry.grids import SO3Grid
        from eqrobot.perception.pose.plot import plot_density
        from eqrobot.perception.pose.predictor import DENSITY_LEVEL

        plot_density(args.plot, estimate.view_rotation @ SO3Grid(DENSITY_LEVEL).rotations, estimate.density, image=rgb,
                     estimate=estimate.rotation)
    where = "" if estimate.translation is None else \
        f", centre of the visible surface at ({', '.join(f'{v:.3f}' for v in estimate.translation)}) m"
    print(f"best mode holds {estimate.mode_mass[0]:.0%} of the mass, uncertainty {estimate.uncertainty_deg:.1f} deg, "
          f"{len(estimate.modes)} modes{where} ({estimate.time_s * 1000:.0f} ms)")
    return 0


def _roi(text: str) -> tuple[float, float, float, float]:
    from eqrobot.cli.errors import CliError

    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise CliError(f"--roi takes X,Y,W,H (four numbers, pixels), got {text}")
    return values
