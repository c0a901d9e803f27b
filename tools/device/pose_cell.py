"""One pose training run on the GPU with a wall-clock budget (issue 6), then its scores.

    python3 tools/device/pose_cell.py --kind eq --fraction 1.0 --seconds 380 --out $OUT/eq-100 \
        --data bench/pose-gpu/train.npz --val bench/pose-gpu/val.npz --test bench/pose-gpu/test.npz

The step count comes from the rate of 20 timed steps (taken while the other runs start too),
so runs sharing the GPU end together; the cosine schedule then runs to that count.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from eqrobot.geometry.rotations import random_rotations
from eqrobot.perception.pose.augment import turn_in_plane
from eqrobot.perception.pose.data import load_arrays
from eqrobot.perception.pose.evaluate import evaluate
from eqrobot.perception.pose.model import PoseModelConfig, PoseNet
from eqrobot.perception.pose.train import PoseTrainConfig, load_model, loss, train


def measured_rate(model_cfg: PoseModelConfig, images: torch.Tensor, batch: int, device: str,
                  turn_images: bool = False) -> float:
    model = PoseNet(model_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    turn = torch.tensor(random_rotations(1, seed=0)[0], dtype=torch.float32, device=device)
    rotations = torch.tensor(random_rotations(batch, seed=1), dtype=torch.float32, device=device)
    x = images[:batch].permute(0, 3, 1, 2).float() / 255
    for i in range(25):
        if i == 5:
            _sync(device)
            began = time.perf_counter()
        if turn_images:
            x, rotations = turn_in_plane(x, rotations, torch.rand(batch, device=device) * 6.28)
        value = loss(model, x, rotations, turn)
        opt.zero_grad()
        value.backward()
        opt.step()
    _sync(device)
    return 20 / (time.perf_counter() - began)


def packed_count(path: str, fraction: float) -> int:
    """Training images of a packed set a run used (reads only its rotations, not the images)."""
    with np.load(path) as packed:
        return max(1, int(round(len(packed["rotation"]) * fraction)))


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    a = argparse.ArgumentParser()
    a.add_argument("--kind", default="eq")
    a.add_argument("--fraction", type=float, default=1.0)
    a.add_argument("--seconds", type=float, required=True)
    a.add_argument("--batch", type=int, default=96)
    a.add_argument("--image-size", type=int, default=128)
    a.add_argument("--data", required=True)
    a.add_argument("--val", required=True)
    a.add_argument("--test", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--device", default="cuda")
    a.add_argument("--turn-images", action="store_true", help="random in-plane turns of the training images")
    a.add_argument("--shifts", type=int, default=64, help="turned copies of the grid that normalise the test density")
    a.add_argument("--start-from", default="", help="weights to go on from (their architecture; a fresh schedule)")
    a.add_argument("--lr", type=float, default=1e-3)
    args = a.parse_args()
    began = time.perf_counter()
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision("high")
    model_cfg = load_model(args.start_from)[0].config if args.start_from else \
        PoseModelConfig(kind=args.kind, image_size=args.image_size)
    images = torch.as_tensor(load_arrays(args.test, args.batch).rgb, device=args.device)
    rate = measured_rate(model_cfg, images, args.batch, args.device, args.turn_images)
    steps = int(rate * (args.seconds - (time.perf_counter() - began) - 25) * 0.93)
    print(f"{args.kind} {args.fraction}: {rate:.1f} steps/s -> {steps} steps", flush=True)
    cfg = PoseTrainConfig(data=args.data, val_data=args.val, fraction=args.fraction, steps=steps,
                          batch=args.batch, validate_every=max(steps // 3, 1), val_images=300,
                          checkpoint_every=max(steps // 4, 1), turn_images=args.turn_images, lr=args.lr,
                          start_from=args.start_from)
    weights = train(args.out, cfg, model_cfg, device=args.device)
    trained = time.perf_counter() - began
    torch.set_float32_matmul_precision("highest")
    model, _ = load_model(weights, args.device)
    result = evaluate(model, load_arrays(args.test), shifts=args.shifts, desc="test")
    result.update(kind=model_cfg.kind, start_from=args.start_from, lr=args.lr, turn_images=args.turn_images,
                  fraction=args.fraction, steps=steps, batch=args.batch,
                  steps_per_s=rate,
                  train_seconds=trained, train_images=packed_count(args.data, args.fraction),
                  device=torch.cuda.get_device_name() if args.device == "cuda" else "cpu")
    Path(args.out, "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "per_shape"}), flush=True)


if __name__ == "__main__":
    main()
