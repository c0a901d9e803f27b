"""A density over SO(3) drawn as IPDF and Image2Sphere draw theirs: each rotation
``Rz(phi) Ry(theta) Rz(psi)`` is a dot on a Mollweide map at the direction of its z axis
(longitude ``phi``, latitude ``90 deg - theta``) coloured by the turn ``psi`` about it, its area
proportional to its probability. Ground truth shows as rings in the same colours."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

MASS_SHOWN = 0.99  # the most probable cells holding this much of the mass are drawn
MAX_DOTS = 6000


def zyz_angles(rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(phi, theta, psi)`` with ``R = Rz(phi) Ry(theta) Rz(psi)``."""
    r = np.asarray(rotations, dtype=np.float64)
    theta = np.arccos(np.clip(r[..., 2, 2], -1, 1))
    phi = np.arctan2(r[..., 1, 2], r[..., 0, 2])
    psi = np.arctan2(r[..., 2, 1], -r[..., 2, 0])
    return phi, theta, psi


def plot_density(path: str | Path, rotations: np.ndarray, probability: np.ndarray, image: np.ndarray | None = None,
                 truths: np.ndarray | None = None, estimate: np.ndarray | None = None, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12 if image is not None else 9, 4.2))
    if image is not None:
        shown = fig.add_axes((0.01, 0.08, 0.26, 0.84))
        shown.imshow(image)
        shown.set_axis_off()
    ax = fig.add_axes((0.3 if image is not None else 0.05, 0.08, 0.6, 0.84), projection="mollweide")
    chosen = _most_probable(probability)
    phi, theta, psi = zyz_angles(rotations[chosen])
    hue = plt.get_cmap("hsv")
    share = probability[chosen] / probability[chosen].max()
    ax.scatter(_longitude(phi), math.pi / 2 - theta, s=2 + 200 * share, c=(psi % (2 * np.pi)) / (2 * np.pi), cmap=hue,
               vmin=0, vmax=1, alpha=0.75, linewidths=0)
    if truths is not None and len(truths):
        phi, theta, psi = zyz_angles(truths[:: max(1, len(truths) // 360)])
        ax.scatter(_longitude(phi), math.pi / 2 - theta, s=120, facecolors="none",
                   edgecolors=hue((psi % (2 * np.pi)) / (2 * np.pi)), linewidths=1.5)
    if estimate is not None:
        phi, theta, _ = zyz_angles(estimate[None])
        ax.plot(_longitude(phi), math.pi / 2 - theta, "k+", markersize=14, markeredgewidth=2)
    ax.grid(True, alpha=0.3)
    ax.set_xticklabels([])
    ax.set_title(title or "orientation density (dot: direction of the object's z axis, colour: turn about it)",
                 fontsize=9)
    bar = fig.add_axes((0.92, 0.25, 0.015, 0.5))
    matplotlib.colorbar.ColorbarBase(bar, cmap=hue, norm=matplotlib.colors.Normalize(0, 360), label="turn (deg)")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def _most_probable(probability: np.ndarray) -> np.ndarray:
    order = np.argsort(-probability)
    count = int(np.searchsorted(np.cumsum(probability[order]), MASS_SHOWN * probability.sum())) + 1
    return order[: min(count, MAX_DOTS)]


def _longitude(phi: np.ndarray) -> np.ndarray:
    return (phi + np.pi) % (2 * np.pi) - np.pi
