"""Latency of the pose predictor (issue 6): one 128x128 image in, density + modes + estimate out.

    python3 tools/device/pose_latency.py out.json WEIGHTS [WEIGHTS ...] [IMAGES.npz]

Each: 10 warm-up calls, then the median of 50 calls, on CUDA when there is one (else the CPU),
with the CUDA graph (the default) and eagerly; the median of each stage (network, density +
modes, refinement, covariance) timed apart; the network alone on a batch of 64 (images per s).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from eqrobot.perception.pose.data import load_arrays
from eqrobot.perception.pose.predictor import PosePredictor, find_modes, refine, rotation_covariance


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


@torch.no_grad()
def stage_times(predictor: PosePredictor, images: np.ndarray) -> dict:
    """Median milliseconds of each stage of ``PosePredictor.__call__`` over 30 images."""
    times: dict[str, list[float]] = {}

    def lap(name: str, began: float) -> float:
        sync()
        now = time.perf_counter()
        times.setdefault(name, []).append(1000 * (now - began))
        return now

    for i in range(30):
        sync()
        began = time.perf_counter()
        coeffs = predictor.coefficients(images[i % len(images)][None])
        began = lap("network", began)
        probability = torch.softmax((coeffs @ predictor.grid_features)[0], dim=0)
        modes, _, cells = find_modes(predictor.cells, probability, predictor.num_modes)
        began = lap("density_and_modes", began)
        best = refine(coeffs, modes[:1], predictor.lmax, predictor.grid_features[:, cells[:1]].T)
        began = lap("refine", began)
        rotation_covariance(predictor.cells, probability, best[0]).cpu()
        lap("covariance", began)
    return {name: float(np.median(t)) for name, t in times.items()}


def median_call(predictor: PosePredictor, images: np.ndarray) -> float:
    """Milliseconds per image, end to end: median of 50 calls after 10 warm-up calls."""
    for i in range(10):
        predictor(images[i])
    times = []
    for i in range(50):
        sync()
        began = time.perf_counter()
        predictor(images[i % len(images)])
        sync()
        times.append(time.perf_counter() - began)
    return 1000 * float(np.median(times))


def main() -> None:
    out, weights = sys.argv[1], sys.argv[2:]
    images = load_arrays(sys.argv[-1] if sys.argv[-1].endswith(".npz") else "bench/pose-gpu/test.npz", 64).rgb
    weights = [w for w in weights if not w.endswith(".npz")]
    results = {}
    for path in weights:
        predictor = PosePredictor(path, device="auto")
        eager = PosePredictor(path, device="auto", cuda_graphs=False)
        times, eager_times = median_call(predictor, images), median_call(eager, images)
        predictor.coefficients(images)
        sync()
        began = time.perf_counter()
        for _ in range(5):
            predictor.coefficients(images)
        sync()
        batch_rate = 5 * len(images) / (time.perf_counter() - began)
        results[path] = {"kind": predictor.model.config.kind, "median_ms": times, "median_ms_eager": eager_times,
                         "batch64_images_per_s": batch_rate, "device": predictor.device,
                         "stages_ms": stage_times(predictor, images),
                         "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
        print(path, results[path], flush=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
