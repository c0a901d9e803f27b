"""Descriptor matching: mutual nearest neighbours first, then the most distinctive
one-way matches (Lowe ratio), best first."""

from __future__ import annotations

import numpy as np


def match_descriptors(desc_src, desc_tgt, max_matches: int = 1000, top_k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(pairs (M, 2) of source/target indices, scores (M,))`` sorted by score, best first.

    Descriptors are unit vectors, so distances come from one matrix product. Each source
    point proposes its ``top_k`` nearest target points (a correct partner that is second
    or third in descriptor space is still found; the robust fit sorts them out). Score is
    ``1 - d_i / d_(k+1)``, the margin to the first descriptor not proposed; mutual best
    matches rank above all others.
    """
    a = np.asarray(desc_src, dtype=np.float32)
    b = np.asarray(desc_tgt, dtype=np.float32)
    dist = np.sqrt(np.maximum(2.0 - 2.0 * (a @ b.T), 0.0))
    n_src, n_tgt = dist.shape
    k = max(1, min(top_k, n_tgt - 1)) if n_tgt > 1 else 1
    near = np.argpartition(dist, k, axis=1)[:, : k + 1] if n_tgt > k else np.argsort(dist, axis=1)
    near_d = np.take_along_axis(dist, near, axis=1)
    order = np.argsort(near_d, axis=1, kind="stable")
    near, near_d = np.take_along_axis(near, order, axis=1), np.take_along_axis(near_d, order, axis=1)
    reference = near_d[:, -1:] if near.shape[1] > k else near_d[:, -1:] + 1.0
    src_idx = np.repeat(np.arange(n_src), k)
    tgt_idx = near[:, :k].reshape(-1)
    score = (1.0 - near_d[:, :k] / np.maximum(reference, 1e-9)).reshape(-1)
    mutual = (dist.argmin(axis=0)[tgt_idx] == src_idx) & (np.tile(np.arange(k), n_src) == 0)
    rank = score + 2.0 * mutual  # every mutual best match ranks above every other match
    keep = np.argsort(-rank, kind="stable")[:max_matches]
    return np.stack([src_idx[keep], tgt_idx[keep]], axis=1), score[keep]
