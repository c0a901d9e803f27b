"""Deterministic robust rigid fit from putative correspondences.

Rigid motions preserve distances, so two correct correspondences agree on the distance
between their points in both clouds. From the pairwise agreement (compatibility) graph,
second-order compatibility (how many correspondences both agree with) singles out the
consistent cluster even when most matches are wrong. Every correspondence (up to
``n_seeds``, most connected first) seeds a local consensus set of its most compatible
partners, fitted in closed form (Kabsch): the right pose is often backed by a small,
weakly connected cluster that the most connected seeds alone miss. The fit
with the best truncated-quadratic (MSAC) score over all correspondences wins: like an
inlier count, but a pose that puts its inliers closer scores higher, which separates the
right pose from one that slides a smooth surface along itself. No random sampling: the
same input always gives the same transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RobustFit:
    transform: np.ndarray
    inliers: np.ndarray  # indices into the correspondences
    rmse: float
    # The ``candidates`` best-supported hypotheses (B, 4, 4), best first; the first is ``transform``.
    candidates: np.ndarray | None = None


def kabsch(src: np.ndarray, tgt: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Batched weighted least-squares rigid transforms ``(B, 4, 4)`` mapping ``src`` onto ``tgt`` ``(B, N, 3)``."""
    if weights is None:
        weights = np.ones(src.shape[:2])
    w = (weights / np.maximum(weights.sum(1, keepdims=True), 1e-12))[:, None, :]  # (B, 1, N)
    cs, ct = (w @ src)[:, 0], (w @ tgt)[:, 0]
    H = (w * np.swapaxes(src - cs[:, None], 1, 2)) @ (tgt - ct[:, None])  # batched matmuls, not einsum
    U, _, Vt = np.linalg.svd(H)
    V, Ut = np.swapaxes(Vt, 1, 2), np.swapaxes(U, 1, 2)
    V[:, :, 2] *= np.sign(np.linalg.det(V @ Ut))[:, None]  # a rotation, never a reflection
    R = V @ Ut
    T = np.tile(np.eye(4), (len(R), 1, 1))
    T[:, :3, :3] = R
    T[:, :3, 3] = ct - (R @ cs[..., None])[..., 0]
    return T


def residuals(T: np.ndarray, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """``(B, N)`` distances of every correspondence under each of ``B`` transforms.

    One matrix product instead of moving every point under every transform:
    |R s + t - q|^2 = |s|^2 + |q|^2 + |t|^2 + 2 s.(R^T t) - 2 t.q - 2 q^T R s,
    with both point sets centred first so that large coordinates do not cancel.
    """
    src_c, tgt_c = src.mean(0), tgt.mean(0)
    src, tgt = src - src_c, tgt - tgt_c
    R = T[:, :3, :3]
    t = T[:, :3, 3] + R @ src_c - tgt_c
    per_pose = np.concatenate([-2.0 * R.reshape(len(T), 9), 2.0 * np.einsum("bji,bj->bi", R, t), -2.0 * t,
                               np.ones((len(T), 1))], axis=1)
    per_match = np.concatenate([np.einsum("nj,nk->njk", tgt, src).reshape(len(src), 9), src, tgt,
                                (np.einsum("ni,ni->n", src, src) + np.einsum("ni,ni->n", tgt, tgt))[:, None]], axis=1)
    sq = per_pose @ per_match.T + np.einsum("bi,bi->b", t, t)[:, None]
    return np.sqrt(np.maximum(sq, 0.0))


def msac_scores(residuals: np.ndarray, threshold: float) -> np.ndarray:
    """Truncated-quadratic support per hypothesis: each inlier counts 1 - (r / threshold)^2."""
    return np.clip(1.0 - (residuals / threshold) ** 2, 0.0, None).sum(-1)


def _pairwise_distances(p: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", p, p)
    return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * p @ p.T, 0.0))


def distinct_poses(T: np.ndarray, centre: np.ndarray, distance: float, n: int, angle_deg: float = 3.0) -> np.ndarray:
    """Indices of the first ``n`` poses (in the given order) that differ from every earlier kept
    one by more than ``angle_deg`` or move ``centre`` more than ``distance`` elsewhere: seeds of
    one cluster give nearly the same pose, and checking it twice is wasted."""
    R = T[:, :3, :3].reshape(len(T), 9)
    moved = np.einsum("bij,j->bi", T[:, :3, :3], centre) + T[:, :3, 3]
    cos_angle = (R @ R.T - 1.0) / 2.0  # trace(Ri^T Rj) = 1 + 2 cos(angle between them)
    same = (cos_angle > np.cos(np.radians(angle_deg))) & (_pairwise_distances(moved) < distance)
    covered = np.zeros(len(T), dtype=bool)
    kept: list[int] = []
    for i in range(len(T)):
        if len(kept) == n:
            break
        if not covered[i]:
            kept.append(i)
            covered |= same[i]
    return np.asarray(kept, dtype=np.int64)


def robust_rigid_fit(src_pts: np.ndarray, tgt_pts: np.ndarray, inlier_threshold: float,
                     n_seeds: int = 1000, consensus: int = 30, refinements: int = 3,
                     candidates: int = 1) -> RobustFit:
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
    members = np.argpartition(-second_order[seeds], k - 1, axis=1)[:, :k]
    members[:, -1] = seeds  # each consensus set contains its seed
    weights = np.take_along_axis(second_order[seeds], members, axis=1).astype(np.float64) + 1e-6
    T = kabsch(src[members], tgt[members], weights)
    support = msac_scores(residuals(T, src, tgt), inlier_threshold)
    T = T[np.argsort(-support, kind="stable")]  # best first; first maximum first: deterministic tie-break
    T_best = T[:1]
    next_best = T[distinct_poses(T, src.mean(0), inlier_threshold, candidates)[1:]]

    for _ in range(refinements):
        mask = residuals(T_best, src, tgt)[0] < inlier_threshold
        if mask.sum() < 3:
            break
        T_best = kabsch(src[mask][None], tgt[mask][None])
    res = residuals(T_best, src, tgt)[0]
    inliers = np.nonzero(res < inlier_threshold)[0]
    rmse = float(np.sqrt(np.mean(res[inliers] ** 2))) if len(inliers) else float("inf")
    return RobustFit(T_best[0], inliers, rmse, np.concatenate([T_best, next_best]))
