#!/bin/bash
# Device check 3 (issue 4): towers-of-hanoi and palletizing-boxes, both agents, 1 and 10 demos, 500 steps, in parallel.
mkdir -p /tmp/site && tar xJf .site/site312.tar.xz -C /tmp/site || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
for t in towers-of-hanoi palletizing-boxes; do for a in eq base; do for d in 1 10; do
  timeout $1 python3 -W ignore tools/device/train_cell.py bench/gpu500 $t $a $d 0 500 > $OUT/$t-$a-$d.log 2>&1 &
done; done; done
wait
for f in $OUT/*.log; do echo "$f: $(tr '\r' '\n' < $f | grep -a 'training transporter' | tail -1)"; done
cat $OUT/*.log > /tmp/all.log; rm $OUT/*.log; mv /tmp/all.log $OUT/train.log
python3 -W ignore tools/device/pack.py bench/gpu500/runs $OUT
