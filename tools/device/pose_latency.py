"""Latency of the pose predictor (issue 6): one 128x128 image in, density + modes + estimate out.

    python3 tools/device/pose_latency.py out.json WEIGHTS [WEIGHTS ...]

Each: 10 warm-up calls, then the median of 50 calls, on CUDA when there is one (else the CPU),
and the network's forward pass alone on a batch of 64 (images per second).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

from eqrobot.perception.pose.data import load_arrays
from eqrobot.perception.pose.predictor import PosePredictor


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> None:
    out, weights = sys.argv[1], sys.argv[2:]
    images = load_arrays("bench/pose-gpu/test.npz", 64).rgb
    results = {}
    for path in weights:
        predictor = PosePredictor(path, device="auto")
        for i in range(10):
            predictor(images[i])
        times = []
        for i in range(50):
            sync()
            began = time.perf_counter()
            predictor(images[i % len(images)])
            sync()
            times.append(time.perf_counter() - began)
        predictor.coefficients(images)
        sync()
        began = time.perf_counter()
        for _ in range(5):
            predictor.coefficients(images)
        sync()
        batch_rate = 5 * len(images) / (time.perf_counter() - began)
        results[path] = {"kind": predictor.model.config.kind, "median_ms": 1000 * float(np.median(times)),
                         "batch64_images_per_s": batch_rate, "device": predictor.device,
                         "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
        print(path, results[path], flush=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
