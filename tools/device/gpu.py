"""Device check for issue 4: GPU latency, then 12 place-red-in-green training runs in parallel
with a common step budget chosen from their measured rate. Results under sys.argv[1]."""
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
from pack import pack  # beside this script

T0 = time.time()
OUT = Path(sys.argv[1])
DEADLINE = float(sys.argv[2])  # seconds from start: every run is stopped by then
SMOKE = os.environ.get("EQ_DEVICE") == "cpu"  # a flow check on a machine without a GPU
PROBE = 20.0 if SMOKE else 70.0
ROOT = Path("/tmp/gpubench")
TASK = "place-red-in-green"


def log(*a):
    print(f"[{time.time() - T0:6.1f}s]", *a, flush=True)


def latency():
    import torch

    from eqrobot.policy.transporter.agent import TransporterAgent
    from eqrobot.policy.transporter.benchmark import measure_latency
    from eqrobot.policy.transporter.model import Transporter, TransporterConfig

    z = np.load("tools/device/obs.npz")
    obs = {"color": z["color"], "height": z["height"]}
    res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
           "single": measure_latency(("eq", "base"), 30, obs)}
    for agent in ("eq", "base"):  # batched: seconds per action for 8 scenes at once
        policy = TransporterAgent(Transporter(TransporterConfig(agent=agent)), device="cuda")
        policy.act_batch([obs] * 8)
        times = []
        for _ in range(10):
            t = time.perf_counter()
            policy.act_batch([obs] * 8)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t) / 8)
        res[f"{agent} (cuda, batch 8, per action)"] = float(np.median(times))
    return res


def step_of(folder):
    from eqrobot.io.checkpoint import load_checkpoint

    p = folder / "last.safetensors"
    return load_checkpoint(p)[1]["step"] if p.is_file() else 0


def start(cells, steps):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    procs = {}
    for agent, demos, run in cells:
        with open(ROOT / f"{agent}-{demos}-{run}.log", "a") as logf:  # the child keeps its own handle
            procs[(agent, demos, run)] = subprocess.Popen(
                [sys.executable, "tools/device/train_cell.py", str(ROOT), TASK, agent, str(demos), str(run),
                 str(steps)],
                stdout=logf, stderr=subprocess.STDOUT, env=env)
    return procs


def stop(procs):
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
    for p in procs.values():
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


def main():
    from eqrobot.policy.transporter.benchmark import run_name

    ROOT.mkdir(parents=True, exist_ok=True)
    (ROOT / "data").mkdir(exist_ok=True)
    if not (ROOT / "data" / TASK).exists():
        os.symlink(Path(f"bench/red/data/{TASK}").resolve(), ROOT / "data" / TASK)
    report = {}
    try:
        report["latency"] = latency()
        log("latency", report["latency"])
    except Exception as e:  # noqa: BLE001 - the training below is still worth running
        report["latency_error"] = repr(e)
        log("latency failed", e)
    (OUT / "report.json").write_text(json.dumps(report, indent=1))
    cells = [(a, d, r) for a in ("eq", "base") for d in (1, 10) for r in range(3)]
    cells = cells[:1] + cells[6:7] if SMOKE else cells
    folder = {c: ROOT / "runs" / run_name(TASK, c[0], c[1], c[2]) for c in cells}
    procs = start(cells, 1_000_000)
    t_probe = time.time()
    time.sleep(PROBE)
    steps_now = {c: step_of(folder[c]) for c in cells}
    elapsed = time.time() - t_probe
    log("probe steps", steps_now)
    left = DEADLINE - (time.time() - T0) - 40  # 40 s: restarts rebuild the networks, final saves
    rate = min(max(s, 1) / elapsed for c, s in steps_now.items() if c[0] == "eq")
    target = int(min(steps_now.values()) + rate * left) // 250 * 250
    target = max(target, 20 if SMOKE else 500)
    stop(procs)
    log("common step budget", target, "eq rate (steps/s, slowest)", round(rate, 2))
    report["steps"] = target
    report["probe"] = {f"{a}-{d}-{r}": s for (a, d, r), s in steps_now.items()}
    procs = start(cells, target)
    while any(p.poll() is None for p in procs.values()) and time.time() - T0 < DEADLINE:
        time.sleep(5)
    stop(procs)
    report["done"] = {f"{a}-{d}-{r}": (folder[(a, d, r)] / "transporter.safetensors").is_file()
                      for (a, d, r) in cells}
    report["reached"] = {f"{a}-{d}-{r}": step_of(folder[(a, d, r)]) for (a, d, r) in cells}
    report["wall_s"] = time.time() - T0
    log("report", report)
    (OUT / "report.json").write_text(json.dumps(report, indent=1))
    pack(ROOT / "runs", OUT)
    with tarfile.open(OUT / "logs.tar", "w") as tar:
        for f in ROOT.glob("*.log"):
            tar.add(f, f.name)


if __name__ == "__main__":
    main()
