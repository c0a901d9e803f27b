"""Final weights (or, for a run stopped early, its last ones without the optimizer state) and
histories of the runs in RUNS_DIR, one tar per agent in OUT. Usage: pack.py RUNS_DIR OUT."""
import sys
import tarfile
from pathlib import Path

from eqrobot.io.checkpoint import load_checkpoint, save_checkpoint, without_optimizer


def pack(runs_dir: Path, out: Path) -> None:
    for agent in ("eq", "base"):
        with tarfile.open(out / f"{agent}.tar", "w") as tar:
            for run in sorted(runs_dir.glob(f"*-{agent}-*")):
                final = run / "transporter.safetensors"
                if not final.is_file() and (run / "last.safetensors").is_file():
                    tensors, meta = load_checkpoint(run / "last.safetensors")
                    final = save_checkpoint(run / "partial.safetensors", without_optimizer(tensors), meta)
                    print(run.name, "stopped at step", meta["step"])
                for f in (final, run / "history.json"):
                    if f.is_file():
                        tar.add(f, f"{run.name}/{f.name}")


if __name__ == "__main__":
    pack(Path(sys.argv[1]), Path(sys.argv[2]))
