"""Final (or, for a run stopped early, last) weights and histories of bench/gpu500's runs, one tar per agent."""
import sys
import tarfile
from pathlib import Path

from eqrobot.io.checkpoint import load_checkpoint, save_checkpoint, without_optimizer

out = Path(sys.argv[1])
for agent in ("eq", "base"):
    with tarfile.open(out / f"{agent}.tar", "w") as tar:
        for run in sorted(Path("bench/gpu500/runs").glob(f"*-{agent}-*")):
            final = run / "transporter.safetensors"
            if not final.is_file() and (run / "last.safetensors").is_file():
                tensors, meta = load_checkpoint(run / "last.safetensors")
                final = save_checkpoint(run / "partial.safetensors", without_optimizer(tensors), meta)
                print(run.name, "stopped at step", meta["step"])
            for f in (final, run / "history.json"):
                if f.is_file():
                    tar.add(f, f"{run.name}/{f.name}")
