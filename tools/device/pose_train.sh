#!/bin/bash
# Device check (issue 6): four pose trainings sharing one GPU (eq / base x 100 % / 10 % of the
# training renders) for SECONDS each, their test scores, then the predictor's latency.
# Carry bench/pose-gpu (train.npz, val.npz, test.npz from eqrobot.perception.pose.data.pack).
S=${1:-360}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
d=bench/pose-gpu
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for run in eq:1.0:100 base:1.0:100 eq:0.1:10 base:0.1:10; do
  IFS=: read -r kind fraction pct <<< "$run"
  python3 -W ignore tools/device/pose_cell.py --kind "$kind" --fraction "$fraction" --seconds "$S" \
    --data $d/train.npz --val $d/val.npz --test $d/test.npz --out "/tmp/pose/$kind-$pct" > "/tmp/pose-$kind-$pct.log" 2>&1 &
done
wait
for n in eq-100 base-100 eq-10 base-10; do
  echo "== $n"; tr '\r' '\n' < "/tmp/pose-$n.log" | grep -v "it/s\]\|step/s\]\|batch/s\]" | tail -8
  cp "/tmp/pose/$n/pose.safetensors" "$OUT/pose-$n.safetensors"
done
timeout 120 python3 -W ignore tools/device/pose_latency.py /tmp/latency.json /tmp/pose/eq-100/pose.safetensors \
  /tmp/pose/base-100/pose.safetensors
python3 - "$OUT/results.json" <<'EOF'
import json, sys, glob
out = {p.split("/")[-2]: json.load(open(p)) for p in glob.glob("/tmp/pose/*/result.json")}
try:
    out["latency"] = json.load(open("/tmp/latency.json"))
except OSError:
    pass
json.dump(out, open(sys.argv[1], "w"), indent=1)
EOF
cat /tmp/pose-*.log | tr '\r' '\n' | grep -v "it/s\]\|step/s\]\|batch/s\]" > "$OUT/logs.txt"
