"""Registration metrics over a set of pairs, for any method, side by side.

A pair counts as registered when the rotation error is under 5 deg and the translation
error under 5 % of the object's diameter. Each method runs twice on every pair; the
result is deterministic when both runs give the same transform up to floating-point
rounding (1e-6 deg, 1e-6 of the diameter: Open3D's parallel loops sum in varying order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eqrobot.geometry.transforms import rotation_error, translation_error
from eqrobot.perception.registration.pairs import RegistrationPair
from eqrobot.perception.registration.preprocess import cloud_diameter
from eqrobot.perception.registration.registrar import Registrar, RegistrarConfig
from eqrobot.progress import progress

RRE_DEG = 5.0
RTE_DIAMETER_SHARE = 0.05


@dataclass
class PairOutcome:
    name: str
    rre_deg: float
    rte: float
    diameter: float
    time_s: float
    converged: bool
    deterministic: bool

    @property
    def success(self) -> bool:
        return self.rre_deg < RRE_DEG and self.rte < RTE_DIAMETER_SHARE * self.diameter


def pair_diameter(pair: RegistrationPair) -> float:
    return float(pair.info.get("diameter", cloud_diameter(pair.target)))


def run_pair(registrar: Registrar, pair: RegistrationPair, repeats: int = 2) -> PairOutcome:
    results = [registrar(pair.source, pair.target) for _ in range(repeats)]
    first = results[0]
    diameter = pair_diameter(pair)
    same = all(np.degrees(rotation_error(r.transform, first.transform)) < 1e-6
               and translation_error(r.transform, first.transform) < 1e-6 * diameter for r in results[1:])
    return PairOutcome(
        name=pair.name,
        rre_deg=float(np.degrees(rotation_error(first.transform, pair.transform))),
        rte=float(translation_error(first.transform, pair.transform)),
        diameter=diameter,
        time_s=float(np.median([r.time_s for r in results])),
        converged=first.converged,
        deterministic=same,
    )


def summarize(outcomes: list[PairOutcome]) -> dict:
    ok = np.array([o.success for o in outcomes])
    conv = np.array([o.converged for o in outcomes])
    return {
        "pairs": len(outcomes),
        "recall": float(ok.mean()),
        "median_rre_deg": float(np.median([o.rre_deg for o in outcomes])),
        "median_rte": float(np.median([o.rte for o in outcomes])),
        "median_rte_share": float(np.median([o.rte / o.diameter for o in outcomes])),
        "median_time_s": float(np.median([o.time_s for o in outcomes])),
        "deterministic": float(np.mean([o.deterministic for o in outcomes])),
        # How far the converged flag can be trusted: accepted results that are right,
        # and right results that were accepted.
        "converged_precision": float(ok[conv].mean()) if conv.any() else float("nan"),
        "converged_recall": float(conv[ok].mean()) if ok.any() else float("nan"),
    }


def evaluate(pairs: list[RegistrationPair], configs: dict[str, RegistrarConfig], repeats: int = 2,
             label: str = "") -> dict[str, dict]:
    """``{method name: summary + per-pair rows}`` for each registrar configuration.

    The methods take turns on each pair, so that a slow or fast spell of the machine falls on
    all of them alike and the time ratios compare like with like."""
    registrars = {name: Registrar(config) for name, config in configs.items()}
    outcomes: dict[str, list[PairOutcome]] = {name: [] for name in configs}
    for pair in progress(pairs, desc=label or "pairs", unit="pair", leave=False):
        for name, registrar in registrars.items():
            outcomes[name].append(run_pair(registrar, pair, repeats))
    return {name: {**summarize(rows), "per_pair": [o.__dict__ | {"success": o.success} for o in rows]}
            for name, rows in outcomes.items()}


# --- the benchmark (eqrobot bench registration) ------------------------------

BENCH_METHODS = {
    "eq (ours)": RegistrarConfig(method="eq"),
    "eq, learned + FPFH side by side": RegistrarConfig(method="eq", descriptor="fused"),
    "eq-estimator on FPFH (ablation)": RegistrarConfig(method="eq", descriptor="fpfh"),
    "Open3D FPFH+RANSAC": RegistrarConfig(method="fpfh"),
    "Open3D FGR": RegistrarConfig(method="fgr"),
    "Open3D ICP": RegistrarConfig(method="icp"),
}
REFERENCE = "Open3D FPFH+RANSAC"
REAL_MESHES = ("bunny_scan", "bunny", "duck", "teddy")


def benchmark_sets(n_pairs: int, seed: int = 2024) -> dict[str, list[RegistrationPair]]:
    """1. RPM-Net protocol with full SO(3) on held-out meshes; 2. partial, noisy,
    30-70 % overlapping views of real shapes (the Stanford bunny scan from pymeshfix and
    the pybullet_data meshes), 4096 points per view, depth noise 3 mm on a 1 m object."""
    from eqrobot.perception.registration.data import DEPTH_CAMERA_VIEW, make_pairs, partial_pair

    synthetic = make_pairs("rpmnet", "test", n_pairs, seed)
    real = [partial_pair(REAL_MESHES[i % len(REAL_MESHES)], seed + i, **DEPTH_CAMERA_VIEW)
            for i in progress(range(n_pairs), desc="real-scan pairs", unit="pair")]
    return {"synthetic (RPM-Net protocol, full SO(3))": synthetic,
            "real shapes (partial views, 30-70% overlap)": real}


def markdown_table(report: dict, machine: str) -> str:
    lines = [f"Machine: {machine}", "",
             "| set | method | recall | median RRE (deg) | median RTE (% diam.) | median time / pair (s) "
             "| deterministic | converged precision | converged recall |",
             "|---|---|---|---|---|---|---|---|---|"]
    for set_name, methods in report["sets"].items():
        for name, m in methods.items():
            lines.append(f"| {set_name} | {name} | {100 * m['recall']:.1f} % | {m['median_rre_deg']:.2f} "
                         f"| {100 * m['median_rte_share']:.2f} | {m['median_time_s']:.3f} "
                         f"| {100 * m['deterministic']:.0f} % | {100 * m['converged_precision']:.1f} % "
                         f"| {100 * m['converged_recall']:.1f} % |")
    lines += ["", f"Against {REFERENCE} (same run, same machine):", ""]
    for set_name, methods in report["sets"].items():
        ours, ref = methods["eq (ours)"], methods[REFERENCE]
        lines.append(f"- {set_name}: recall {100 * (ours['recall'] - ref['recall']):+.1f} points, "
                     f"time ratio {ours['median_time_s'] / ref['median_time_s']:.2f}x")
    return "\n".join(lines) + "\n"


def plot_report(report: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(report["sets"])
    methods = list(report["sets"][sets[0]])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    width = 0.8 / len(methods)
    for i, name in enumerate(methods):
        x = np.arange(len(sets)) + i * width
        axes[0].bar(x, [100 * report["sets"][s][name]["recall"] for s in sets], width, label=name)
        axes[1].bar(x, [report["sets"][s][name]["median_time_s"] for s in sets], width, label=name)
    for ax, title in zip(axes, ("recall (%)", "median time per pair (s)"), strict=True):
        ax.set_xticks(np.arange(len(sets)) + 0.4 - width / 2)
        ax.set_xticklabels([s.split(" (")[0] for s in sets])
        ax.set_title(title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)  # below the bars, not over them
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_benchmark(out_dir, n_pairs: int = 100, machine: str = "", methods: dict | None = None) -> dict:
    """Run every method on both sets; write ``registration.json``, ``registration.md`` and
    ``registration.png`` into ``out_dir``. Returns the report."""
    from pathlib import Path

    from eqrobot.io.atomic import atomic_write_json, atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = {"n_pairs": n_pairs, "machine": machine, "criteria": {"rre_deg": RRE_DEG,
              "rte_share_of_diameter": RTE_DIAMETER_SHARE}, "sets": {}}
    for set_name, pairs in benchmark_sets(n_pairs).items():
        report["sets"][set_name] = evaluate(pairs, methods or BENCH_METHODS, repeats=2, label=set_name)
    atomic_write_json(out / "registration.json", report)
    atomic_write_text(out / "registration.md", markdown_table(report, machine))
    plot_report(report, out / "registration.png")
    return report
