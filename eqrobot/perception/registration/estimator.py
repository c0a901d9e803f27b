"""Deterministic robust rigid fit from putative correspondences.

Rigid motions preserve distances, so two correct correspondences agree on the distance
between their points in both clouds. From the pairwise agreement (compatibility) graph,
second-order compatibility (how many correspondences both agree with) singles out the
consistent cluster even when most matches are wrong. Each of the most connected
correspondences seeds a local consensus set, fitted in closed form (Kabsch); the fit
with most inliers over all correspondences wins. No random sampling: the same input
always gives the same transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RobustFit:
    transform: np.ndarray
    inliers: np.ndarray  # indices into the correspondences
    rmse: float
    # Support of the best hypothesis that differs from the chosen one by more than
    # ``distinct_deg``, relative to the chosen one's: near 1 means two different poses
    # explain the matches equally well (a symmetric object, a repetitive scene).
    ambiguity: float = 0.0
    # Up to ``alternatives`` clearly different runner-up hypotheses, best first (B, 4, 4).
    alternatives: np.ndarray | None = None


def kabsch(src: np.ndarray, tgt: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Batched weighted least-squares rigid transforms ``(B, 4, 4)`` mapping ``src`` onto ``tgt`` ``(B, N, 3)``."""
    if weights is None:
        weights = np.ones(src.shape[:2])
    w = weights / np.maximum(weights.sum(1, keepdims=True), 1e-12)
    cs = np.einsum("bn,bnk->bk", w, src)
    ct = np.einsum("bn,bnk->bk", w, tgt)
    H = np.einsum("bn,bni,bnj->bij", w, src - cs[:, None], tgt - ct[:, None])
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, 1, 2) @ np.swapaxes(U, 1, 2)))
    D = np.zeros((len(d), 3, 3))
    D[:, 0, 0] = D[:, 1, 1] = 1.0
    D[:, 2, 2] = d
    R = np.swapaxes(Vt, 1, 2) @ D @ np.swapaxes(U, 1, 2)
    T = np.tile(np.eye(4), (len(d), 1, 1))
    T[:, :3, :3] = R
    T[:, :3, 3] = ct - np.einsum("bij,bj->bi", R, cs)
    return T


def _residuals(T: np.ndarray, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """``(B, N)`` distances of every correspondence under each of ``B`` transforms."""
    moved = np.einsum("bij,nj->bni", T[:, :3, :3], src) + T[:, None, :3, 3]
    return np.linalg.norm(moved - tgt[None], axis=-1)


def _pairwise_distances(p: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", p, p)
    return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * p @ p.T, 0.0))


def robust_rigid_fit(src_pts: np.ndarray, tgt_pts: np.ndarray, inlier_threshold: float,
                     n_seeds: int = 100, consensus: int = 30, refinements: int = 3,
                     distinct_deg: float = 10.0, alternatives: int = 0) -> RobustFit:
    """Fit the rigid transform supported by most correspondences ``src_pts[i] <-> tgt_pts[i]``."""
    src = np.asarray(src_pts, dtype=np.float64)
    tgt = np.asarray(tgt_pts, dtype=np.float64)
    n = len(src)
    if n < 3:
        raise ValueError(f"need at least 3 correspondences, got {n}")
    # Two correspondences are compatible when they agree on the distance between their points.
    hard = (np.abs(_pairwise_distances(src) - _pairwise_distances(tgt)) < inlier_threshold).astype(np.float32)
    np.fill_diagonal(hard, 0.0)
    second_order = hard * (hard @ hard)

    degree = second_order.sum(1)
    seeds = np.argsort(-degree, kind="stable")[: min(n_seeds, n)]
    k = min(consensus, n)
    members = np.argsort(-second_order[seeds], axis=1, kind="stable")[:, :k]
    members[:, -1] = seeds  # each consensus set contains its seed
    weights = np.take_along_axis(second_order[seeds], members, axis=1).astype(np.float64) + 1e-6
    T = kabsch(src[members], tgt[members], weights)
    inlier_counts = (_residuals(T, src, tgt) < inlier_threshold).sum(1)
    best = int(np.argmax(inlier_counts))  # first maximum: deterministic tie-break
    T_best = T[best][None]
    cos = (np.einsum("bij,ij->b", T[:, :3, :3], T[best, :3, :3]) - 1.0) / 2.0
    distinct = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))) > distinct_deg
    ambiguity = float(inlier_counts[distinct].max() / max(inlier_counts[best], 1)) if distinct.any() else 0.0
    runners_up = _distinct_runners_up(T, inlier_counts, best, distinct_deg, alternatives)

    for _ in range(refinements):
        mask = _residuals(T_best, src, tgt)[0] < inlier_threshold
        if mask.sum() < 3:
            break
        T_best = kabsch(src[mask][None], tgt[mask][None])
    res = _residuals(T_best, src, tgt)[0]
    inliers = np.nonzero(res < inlier_threshold)[0]
    rmse = float(np.sqrt(np.mean(res[inliers] ** 2))) if len(inliers) else float("inf")
    return RobustFit(T_best[0], inliers, rmse, ambiguity, runners_up)


def _distinct_runners_up(T: np.ndarray, counts: np.ndarray, best: int, distinct_deg: float, k: int) -> np.ndarray:
    """The ``k`` best-supported hypotheses more than ``distinct_deg`` from each other and from the best."""
    chosen = [best]
    for i in np.argsort(-counts, kind="stable"):
        if len(chosen) > k:
            break
        cos = (np.einsum("bij,ij->b", T[chosen, :3, :3], T[i, :3, :3]) - 1.0) / 2.0
        if np.all(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))) > distinct_deg):
            chosen.append(int(i))
    return T[chosen[1:]]
