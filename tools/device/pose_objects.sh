#!/bin/bash
# Device check (issue 6): the shipped weights' latency (stage by stage), then the eq network trained
# alone for SECONDS on renders of SET with random in-plane turns, validated and scored on unseen
# instances (ModelNet10-SO(3)-style). SET: objects (random_urdfs 000-799, tested on 800-999; the
# default) or families (mug, chair, hammer, lamp 000-079, tested on 080-099).
# Carry bench/pose-gpu/SET-{train,val,test}.npz. Weights are copied to $OUT every minute,
# so an overrun still brings back the last checkpoint. START (optional): weights to go on from, e.g.
# models/pose/pose-objects-eq.safetensors (the last run's), at half the learning rate.
#   bash tools/device/pose_objects.sh SECONDS [START [SET]]
S=${1:-420}
START=${2:-}
SET=${3:-objects}
more=()
[ -n "$START" ] && more=(--start-from "$START" --lr 5e-4)
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
d=bench/pose-gpu
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 90 python3 -W ignore tools/device/pose_latency.py $OUT/latency.json models/pose/pose-eq.safetensors \
  models/pose/pose-base.safetensors $d/$SET-test.npz 2>&1 | grep -v "/s\]"
run=/tmp/pose/$SET-eq
(while sleep 60; do
   [ -f $run/last.safetensors ] && cp $run/last.safetensors $OUT/.last && mv $OUT/.last $OUT/$SET-eq-last.safetensors
 done) &
copier=$!
python3 -W ignore tools/device/pose_cell.py --kind eq --seconds "$S" --shifts 16 --turn-images \
  --data $d/$SET-train.npz --val $d/$SET-val.npz --test $d/$SET-test.npz --out $run "${more[@]}" \
  > /tmp/$SET-eq.log 2>&1
kill $copier
cp $run/pose.safetensors $OUT/$SET-eq.safetensors && rm -f $OUT/$SET-eq-last.safetensors
cp $run/result.json $OUT/$SET-eq.json
cp $run/history.json $OUT/$SET-eq-history.json
tr '\r' '\n' < /tmp/$SET-eq.log | grep -v "/s\]\|^$" > $OUT/$SET-eq.log
tail -8 $OUT/$SET-eq.log
