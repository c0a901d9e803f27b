"""Why unseen objects are missed by half turns (issue 6): per test object, how decided the
principal frame's direction is (the surface's skewness along x and y, dimensionless), against
how often the estimate is right and how often it is off by a half turn only. Then how often
the silhouette alone tells the direction, given the true axes: the sign of its third moment
along the axis as the picture shows it.

    python tools/pose_sign_diagnostic.py bench/pose-gpu/objects-test.npz models/pose/pose-objects-eq.safetensors
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from eqrobot.perception.pose.data import load_arrays
from eqrobot.perception.pose.evaluate import errors, estimate_images, with_half_turns, with_lookalikes
from eqrobot.perception.pose.train import load_model
from eqrobot.sim.symsol import SymsolCamera, solid

BINS = (0.0, 0.05, 0.1, 0.2, 0.4, np.inf)


def skewness(shape: str) -> np.ndarray:
    """|third moment| / spread^3 of the surface along the frame's x and y axes."""
    mesh = solid(shape)
    centres, area = np.asarray(mesh.triangles).mean(axis=1), np.asarray(mesh.area_faces)
    spread = np.sqrt((area[:, None] * centres ** 2).sum(0) / area.sum())
    return np.abs((area[:, None] * centres ** 3).sum(0) / area.sum())[:2] / spread[:2] ** 3


def main(test: str, weights: str) -> None:
    torch.set_num_threads(2)
    arrays = with_lookalikes(load_arrays(test))
    model, _ = load_model(weights)
    _, best = estimate_images(model, arrays)
    error = errors(best, arrays.equivalents)
    up_to_half_turns = errors(best, [with_half_turns(e) for e in arrays.equivalents])
    alone = np.array([len(e) == 1 for e in arrays.equivalents])
    objects = sorted(set(arrays.shape[alone].tolist()))
    least = np.array([skewness(s).min() for s in objects])
    right = np.array([(error[arrays.shape == s] < 15).mean() for s in objects])
    flipped = np.array([((error > 90) & (up_to_half_turns < 15))[arrays.shape == s].mean() for s in objects])
    print("| least skewness (x, y) | objects | images within 15 deg | off by a half turn only |\n|---|---|---|---|")
    for low, high in zip(BINS[:-1], BINS[1:], strict=True):
        k = (least >= low) & (least < high)
        print(f"| {low:g} - {high:g} | {k.sum()} | {right[k].mean():.2f} | {flipped[k].mean():.2f} |")
    told, in_plane = silhouette_tells(arrays)
    print(f"the silhouette's third moment tells x's and y's direction in {told.mean():.0%} of the cases, "
          f"{told[in_plane].mean():.0%} with the axis within 37 deg of the image plane ({in_plane.mean():.0%})")


def silhouette_tells(arrays) -> tuple[np.ndarray, np.ndarray]:
    """Per image and axis (x, y): whether the silhouette's third moment along the axis's
    picture is positive (the frame points along the surface's), and whether the axis lies
    within 37 deg of the image plane."""
    centre = SymsolCamera(arrays.rgb.shape[1]).intrinsics()[:2, 2] - 0.5
    rows, cols = np.indices(arrays.rgb.shape[1:3]).reshape(2, -1)
    pixels = np.stack([cols, rows], axis=1) - centre
    told, in_plane = [], []
    for rgb, rotation in zip(arrays.rgb, arrays.rotation, strict=True):
        inside = (255 - rgb.astype(int)).sum(axis=-1).ravel() > 10  # the background is white
        for axis in rotation[:2, :2].T:
            length = np.linalg.norm(axis)
            told.append(((pixels[inside] @ (axis / length)) ** 3).sum() > 0)
            in_plane.append(length > 0.8)
    return np.array(told), np.array(in_plane)


if __name__ == "__main__":
    main(*sys.argv[1:3])
