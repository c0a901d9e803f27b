"""Pictures of a map, its graph and a path (``eqrobot plan --plot``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eqrobot.geometry.types import OccupancyMap
from eqrobot.policy.navigation.graph import GeometricGraph


def draw_map(ax, m: OccupancyMap) -> None:
    """The occupancy grid in world coordinates (free white, occupied black, unknown grey)."""
    shade = np.where(m.data < 0, 0.6, 1.0 - np.clip(m.data, 0, 100) / 100.0)
    rows, cols = np.mgrid[0:m.height + 1, 0:m.width + 1]
    corners = np.stack([cols * m.resolution, rows * m.resolution], axis=-1) @ m.origin[:2, :2].T + m.origin[:2, 3]
    ax.pcolormesh(corners[..., 0], corners[..., 1], shade, cmap="gray", vmin=0, vmax=1, shading="flat")


def draw_graph(ax, graph: GeometricGraph) -> None:
    from matplotlib.collections import LineCollection

    one_way = graph.edges[graph.edges[:, 0] < graph.edges[:, 1]]
    ax.add_collection(LineCollection(graph.positions[one_way], colors="tab:blue", linewidths=0.3, alpha=0.4))
    ax.plot(graph.positions[:, 0], graph.positions[:, 1], ".", color="tab:blue", markersize=1.5)


def plot_plan(path_png: str | Path, m: OccupancyMap, graph: GeometricGraph | None, path_xy: np.ndarray,
              start, goal, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 7))
    draw_map(ax, m)
    if graph is not None:
        draw_graph(ax, graph)
    path_xy = np.asarray(path_xy, dtype=float).reshape(-1, 2)
    if len(path_xy):
        ax.plot(path_xy[:, 0], path_xy[:, 1], "-", color="tab:red", linewidth=2, label="path")
    ax.plot(*start, "o", color="tab:green", markersize=8, label="start")
    ax.plot(*goal, "*", color="tab:orange", markersize=12, label="goal")
    ax.set(aspect="equal", xlabel="x (m)", ylabel="y (m)", title=title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path_png = Path(path_png)
    path_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path_png, dpi=110)
    plt.close(fig)
    return path_png
