"""Small plotting pieces the capabilities' training plots share (matplotlib, Agg backend)."""

from __future__ import annotations

import numpy as np


def plot_losses(ax, history: dict, keys: tuple[str, ...]) -> None:
    """Each loss in ``history[key]`` against ``history["step"]``, averaged over windows of a
    fiftieth of the run so that the curve shows the trend, not the noise of single steps."""
    for key in keys:
        values = np.asarray(history[key])
        if len(values):
            k = max(1, len(values) // 50)
            ax.plot(history["step"][: len(values) - k + 1], np.convolve(values, np.ones(k) / k, mode="valid"),
                    label=key)
    ax.legend()
