#!/bin/bash
# Device check (issue 4): latency, then 12 place-red-in-green runs; $1 = seconds after which every training run is stopped.
mkdir -p /tmp/site && tar xJf .site/site312.tar.xz -C /tmp/site || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import numpy, scipy, torch, escnn; print('numpy', numpy.__version__, 'scipy', scipy.__version__, 'torch', torch.__version__, torch.cuda.get_device_name())" || exit 1
python3 tools/device/gpu.py $OUT $1 2>&1 | tee $OUT/gpu.log &
sleep 45  # the pytest run shares the GPU with the trainings; it checks results, not speed
timeout 240 python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_transporter.py tests/test_transporter_equivariant.py tests/test_device.py > $OUT/pytest.txt 2>&1
tail -5 $OUT/pytest.txt
wait
