#!/bin/bash
# Device check 2 (issue 4): latency with CUDA graphs, then the transporter tests on the GPU.
mkdir -p /tmp/site && tar xJf .site/site312.tar.xz -C /tmp/site || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
timeout 150 python3 -W ignore tools/device/latency.py $OUT/latency.json 2>&1 | tail -40
timeout 200 python3 -m pytest -q -p no:cacheprovider -o addopts="" -k "not raw_camera_views" tests/test_transporter_graphs.py tests/test_transporter.py tests/test_transporter_equivariant.py tests/test_device.py > $OUT/pytest.txt 2>&1
grep -E "^(FAILED|ERROR)|passed|failed" $OUT/pytest.txt | tail -15
