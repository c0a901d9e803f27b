"""GPU latency per action, CUDA graphs (the default) vs eager, one scene and batches of 8."""
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from eqrobot.policy.transporter.agent import TransporterAgent
from eqrobot.policy.transporter.model import Transporter, TransporterConfig

z = np.load("tools/device/obs.npz")
obs = {"color": z["color"], "height": z["height"]}
other = {"color": obs["color"][::-1].copy(), "height": obs["height"][::-1].copy()}
res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}


def median_s(policy, batch, repeats=30):
    policy.act_batch(batch)  # warm-up (records the graphs)
    times = []
    for i in range(repeats):
        inputs = batch if i % 2 else [other] * len(batch)  # new scenes each time
        t = time.perf_counter()
        policy.act_batch(inputs)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t) / len(batch))
    return float(np.median(times))


for agent in ("eq", "base"):
    torch.manual_seed(0)
    model = Transporter(TransporterConfig(agent=agent))
    for graphs in (True, False):
        policy = TransporterAgent(model, device="cuda", cuda_graphs=graphs)
        name = f"{agent} {'graphs' if graphs else 'eager'}"
        res[f"{name}, 1 scene"] = median_s(policy, [obs])
        res[f"{name}, batch 8, per action"] = median_s(policy, [obs] * 8, 10)
    a = TransporterAgent(model, device="cuda", cuda_graphs=False).act(other)
    b = TransporterAgent(model, device="cuda").act(other)
    res[f"{agent} same action"] = bool(all(np.allclose(a[k], b[k], atol=1e-5) for k in ("pick", "place")))
    print(json.dumps(res, indent=1), flush=True)
Path(sys.argv[1]).write_text(json.dumps(res, indent=1))
