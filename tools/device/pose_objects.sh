#!/bin/bash
# Device check (issue 6): the shipped weights' latency (stage by stage), then the eq network trained
# alone for SECONDS on renders of random_urdfs objects 000-799 with random in-plane turns, validated
# on unseen objects 800-999 and scored on their test renders (ModelNet10-SO(3)-style).
# Carry bench/pose-gpu/objects-{train27k,val,test}.npz. Weights are copied to $OUT every minute,
# so an overrun still brings back the last checkpoint. START (optional): weights to go on from, e.g.
# models/pose/pose-objects-eq.safetensors (the last run's), at half the learning rate.
S=${1:-420}
START=${2:-}
more=()
[ -n "$START" ] && more=(--start-from "$START" --lr 5e-4)
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
d=bench/pose-gpu
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 90 python3 -W ignore tools/device/pose_latency.py $OUT/latency.json models/pose/pose-eq.safetensors \
  models/pose/pose-base.safetensors $d/objects-test.npz 2>&1 | grep -v "/s\]"
run=/tmp/pose/objects-eq
(while sleep 60; do
   [ -f $run/last.safetensors ] && cp $run/last.safetensors $OUT/.last && mv $OUT/.last $OUT/objects-eq-last.safetensors
 done) &
copier=$!
python3 -W ignore tools/device/pose_cell.py --kind eq --seconds "$S" --shifts 16 --turn-images \
  --data $d/objects-train27k.npz --val $d/objects-val.npz --test $d/objects-test.npz --out $run "${more[@]}" \
  > /tmp/objects-eq.log 2>&1
kill $copier
cp $run/pose.safetensors $OUT/objects-eq.safetensors && rm -f $OUT/objects-eq-last.safetensors
cp $run/result.json $OUT/objects-eq.json
cp $run/history.json $OUT/objects-eq-history.json
tr '\r' '\n' < /tmp/objects-eq.log | grep -v "/s\]\|^$" > $OUT/objects-eq.log
tail -8 $OUT/objects-eq.log
