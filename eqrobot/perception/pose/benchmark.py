"""``eqrobot bench pose``: the equivariant network against the baseline, side by side.

Protocol: a training set of SYMSOL-I-style renders (seed 0) and 1000 test renders (``TEST_SEED``,
200 per solid); each kind (eq, base) trained on 100 % and on 10 % of the training set for the
same number of steps; scored on the test set (``evaluate``: log-likelihood per solid, median
error, Acc@15/30); then the predictor's latency on this machine (median of 30 single images,
end to end: network, density, modes, refinement, covariance).

Unseen objects (ModelNet10-SO(3)-style): each of ``object_kinds`` trained on ``object_images``
renders of random_urdfs 000-799 (each in its principal frame, training images turned in plane)
and scored on 1000 renders of 800-999 (``objects-<kind>-100``). An estimate off by one of the
object's look-alike turns (``sim.object_symmetry``) counts as right, as SYMSOL's symmetries do;
the scores of the objects without look-alikes are given apart (``asymmetric``).

A run folder that already holds ``pose.safetensors`` is evaluated, not trained again: weights
trained elsewhere (``tools/device/pose_train.sh`` on a GPU) drop into ``<out>/runs/<kind>-<pct>/``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eqrobot.io.atomic import atomic_write_json, atomic_write_text
from eqrobot.perception.pose.data import TEST_SEED, VALIDATION_SEED, load_arrays, write_dataset
from eqrobot.perception.pose.evaluate import evaluate, evaluate_objects, uniform_loglik
from eqrobot.sim.symsol import SHAPES, random_objects

PLOT_FLOOR = -6.0  # log-likelihoods below are drawn at the floor with their value written on the bar
SEEN_OBJECTS, UNSEEN_OBJECTS = (0, 799), (800, 999)  # random_urdfs numbers trained on / tested on
IPDF_SYMSOL1 = {"loglik": 4.10, "icosa": 1.28}  # Murphy et al. 2021, on SYMSOL I (their renders)


@dataclass
class PoseBenchConfig:
    kinds: tuple[str, ...] = ("eq", "base")
    fractions: tuple[float, ...] = (1.0, 0.1)
    train_images: int = 50000
    test_images: int = 1000
    steps: int = 20000
    batch: int = 32
    image_size: int = 128
    latency_images: int = 30
    object_images: int = 27000  # renders of random_urdfs 000-799 for the unseen-object test (0: none)
    object_kinds: tuple[str, ...] = ("eq",)


def run_name(kind: str, fraction: float, objects: bool = False) -> str:
    return f"{'objects-' if objects else ''}{kind}-{round(100 * fraction)}"


def run_benchmark(out: str | Path, cfg: PoseBenchConfig, machine: str, device: str = "cpu") -> dict:
    out = Path(out)
    test = _rendered(out / "data/test", cfg.test_images, TEST_SEED, None)
    rows = [_cell(out, cfg, kind, fraction, test, device) for kind in cfg.kinds for fraction in cfg.fractions]
    report = {"config": asdict(cfg), "machine": machine, "test_images": len(test), "rows": rows,
              "uniform_loglik": uniform_loglik(), "ipdf_symsol1": IPDF_SYMSOL1}
    if cfg.object_images:
        unseen = _rendered(out / "data/objects-test", cfg.test_images, TEST_SEED, random_objects(*UNSEEN_OBJECTS))
        report["object_rows"] = [_cell(out, cfg, kind, 1.0, unseen, device, objects=True) for kind in cfg.object_kinds]
        report["object_test_images"] = len(unseen)
    atomic_write_json(out / "pose.json", report)
    atomic_write_text(out / "pose.md", markdown(report))
    plot(report, out / "pose.png")
    return report


def _rendered(folder: Path, n: int, seed: int, shapes: tuple[str, ...] | None):
    write_dataset(folder, n, seed, shapes)
    return load_arrays(folder)


def _cell(out: Path, cfg: PoseBenchConfig, kind: str, fraction: float, test, device: str,
          objects: bool = False) -> dict:
    """Train the cell's network unless its weights are there, score it on ``test``, time it."""
    from eqrobot.perception.pose.model import PoseModelConfig
    from eqrobot.perception.pose.train import PoseTrainConfig, load_model, train

    name = run_name(kind, fraction, objects)
    weights = out / "runs" / name / "pose.safetensors"
    if not weights.exists():
        prefix, n, shapes = ("objects-", cfg.object_images, random_objects(*SEEN_OBJECTS)) if objects else \
            ("", cfg.train_images, None)
        data = out / f"data/{prefix}train"
        write_dataset(data, n, 0, shapes)
        validation = out / f"data/{prefix}val"
        write_dataset(validation, 300, VALIDATION_SEED, random_objects(*UNSEEN_OBJECTS) if objects else None)
        train(weights.parent, PoseTrainConfig(data=str(data), val_data=str(validation), fraction=fraction,
                                              steps=cfg.steps, batch=cfg.batch, turn_images=objects),
              PoseModelConfig(kind=kind, image_size=cfg.image_size), device)
    model, meta = load_model(weights, device)
    result = (evaluate_objects if objects else evaluate)(model, test, desc=f"testing {name}")
    return {"kind": kind, "fraction": fraction, "steps": meta["step"], "batch": meta["train"]["batch"],
            "trained_on": meta.get("trained_on", ""), **result,
            "latency_ms": latency_ms(weights, test, cfg.latency_images, device)}


def latency_ms(weights: Path, test, n: int, device: str) -> float:
    from eqrobot.perception.pose.predictor import PosePredictor

    predictor = PosePredictor(weights, device)
    predictor(test.rgb[0])  # warm-up: allocator, lazy initialisation
    times = []
    for i in range(n):
        began = time.perf_counter()
        predictor(test.rgb[i % len(test)])
        times.append(time.perf_counter() - began)
    return 1000 * float(np.median(times))


def markdown(report: dict) -> str:
    shapes = [s for s in SHAPES if any(s in r["per_shape"] for r in report["rows"])]
    lines = [f"Pose prediction on {report['test_images']} SYMSOL-I-style test renders ({report['machine']}).",
             f"Log-likelihood per unit of SO(3)'s volume pi^2: uniform {report['uniform_loglik']:.2f}, "
             f"IPDF on SYMSOL I {IPDF_SYMSOL1['loglik']:.2f} (icosahedron {IPDF_SYMSOL1['icosa']:.2f}).", "",
             "| model | training data | steps x batch | log-lik | " + " | ".join(shapes) +
             " | median err (deg) | Acc@15 | Acc@30 | latency (ms) |",
             "|---" * (8 + len(shapes)) + "|"]
    for r in report["rows"]:
        per_shape = " | ".join(f"{r['per_shape'][s]['loglik']:.2f}" if s in r["per_shape"] else "-" for s in shapes)
        lines.append(f"| {r['kind']} | {100 * r['fraction']:.0f} % | {r['steps']} x {r['batch']} | {r['loglik']:.2f} | "
                     f"{per_shape} | "
                     f"{r['median_err_deg']:.2f} | {r['acc15']:.3f} | {r['acc30']:.3f} | {r['latency_ms']:.0f} |")
    if report.get("object_rows"):
        lines += ["", f"Unseen objects: {report['object_test_images']} renders of random_urdfs "
                  f"{UNSEEN_OBJECTS[0]}-{UNSEEN_OBJECTS[1]} (each in its principal frame), trained on "
                  f"{SEEN_OBJECTS[0]}-{SEEN_OBJECTS[1]}; look-alike turns count as right. Asymmetric: the objects "
                  "with no look-alike turn; axes: their errors up to half turns about the principal axes.", "",
                  "| model | steps x batch | log-lik | median err (deg) | Acc@5 | Acc@15 | Acc@30 | "
                  "asymmetric: objects | median err (deg) | Acc@5 | Acc@15 | axes: median err (deg) | Acc@15 |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['kind']} | {r['steps']} x {r['batch']} | {r['loglik']:.2f} | {r['median_err_deg']:.1f} | "
                  f"{r['acc5']:.3f} | {r['acc15']:.3f} | {r['acc30']:.3f} | {r['asymmetric']['objects']} | "
                  f"{r['asymmetric']['median_err_deg']:.1f} | {r['asymmetric']['acc5']:.3f} | "
                  f"{r['asymmetric']['acc15']:.3f} | {r['asymmetric']['axes']['median_err_deg']:.1f} | "
                  f"{r['asymmetric']['axes']['acc15']:.3f} |" for r in report["object_rows"]]
    trained = sorted({r["trained_on"] for r in report["rows"] + report.get("object_rows", []) if r["trained_on"]})
    lines += ["", f"Trained on: {'; '.join(trained) or 'this machine'}. Latency: one image end to end on this machine."]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = [s for s in SHAPES if any(s in r["per_shape"] for r in report["rows"])] + ["all"]
    fig, ax = plt.subplots(figsize=(9, 4.6))
    width = 0.8 / max(1, len(report["rows"]))
    for i, r in enumerate(report["rows"]):
        values = [r["per_shape"][s]["loglik"] if s in r["per_shape"] else math.nan for s in shapes[:-1]] + [r["loglik"]]
        label = f"{r['kind']}, {100 * r['fraction']:.0f} % data"
        where = np.arange(len(shapes)) + i * width
        ax.bar(where, np.maximum(values, PLOT_FLOOR), width, label=label)
        for x, v in zip(where, values, strict=True):  # a collapsed density would flatten every other bar
            if v < PLOT_FLOOR:
                ax.text(x, PLOT_FLOOR + 0.2, f"{v:.0f}", rotation=90, ha="center", va="bottom", fontsize=7)
    ax.axhline(report["uniform_loglik"], color="grey", linestyle=":", label="uniform")
    ax.axhline(IPDF_SYMSOL1["loglik"], color="black", linestyle="--", linewidth=1, label="IPDF SYMSOL I average")
    ax.set_xticks(np.arange(len(shapes)) + 0.4 - width / 2, shapes)
    ax.set(ylabel="log-likelihood", title="SYMSOL-I-style test renders", ylim=(PLOT_FLOOR, None))
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
