#!/bin/bash
# Device check (issue 6, second): the predictor's latency on the GPU, then eq and base trained
# side by side for SECONDS on renders of random_urdfs objects 000-799 and scored on unseen
# objects 800-999 (ModelNet10-SO(3)-style). Carry bench/pose-gpu (objects-*.npz, test.npz).
S=${1:-110}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
d=bench/pose-gpu
timeout 60 python3 -W ignore tools/device/pose_latency.py $OUT/latency.json models/pose/pose-eq.safetensors \
  models/pose/pose-base.safetensors 2>&1 | grep -v "/s\]"
for kind in eq base; do
  (python3 -W ignore tools/device/pose_cell.py --kind $kind --seconds "$S" --shifts 16 --data $d/objects-train.npz \
     --val $d/objects-test.npz --test $d/objects-test.npz --out /tmp/pose/objects-$kind > /tmp/objects-$kind.log 2>&1
   cp /tmp/pose/objects-$kind/pose.safetensors $OUT/objects-$kind.safetensors
   cp /tmp/pose/objects-$kind/result.json $OUT/objects-$kind.json) &
done
wait
for kind in eq base; do tr '\r' '\n' < /tmp/objects-$kind.log | grep -v "/s\]\|^$" | tail -4; done
