"""Rotation-invariant local descriptors: point-pair features in each point's Darboux
frame, pooled by a small PointNet.

Every input of the network is a length or a product of dot products between vectors
that rotate together (offsets, normals), chosen so that it also does not change when
either normal flips sign. The descriptor is therefore exactly invariant to any rotation
and translation of the cloud, with no normal-orientation rule that could flip, and it
is continuous in the points (unlike binned histograms such as FPFH); only resampling
(different points) changes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from eqrobot.perception.registration.nearest import k_nearest

PPF_CHANNELS = 7


@dataclass
class DescriptorConfig:
    neighbours: int = 64  # K points per patch
    radius_voxels: float = 10.0  # patch radius in voxels
    # Every stride-th of the K * stride nearest points: a wider patch for the same cost.
    # Downsampled surfaces hold about pi r^2 points within r voxels, so 64 x 3 reach ~8 voxels.
    stride: int = 3
    hidden: int = 64
    dim: int = 32  # descriptor length

    def __post_init__(self) -> None:
        if self.neighbours < 4 or self.stride < 1 or not self.radius_voxels > 0:
            raise ValueError(f"bad descriptor patch: {self.neighbours} neighbours (>= 4), stride {self.stride} "
                             f"(>= 1), radius {self.radius_voxels} voxels (> 0)")
        if self.hidden < 2 or self.dim < 1:
            raise ValueError(f"bad descriptor network: width {self.hidden} (>= 2), length {self.dim} (>= 1)")

    def to_dict(self) -> dict:
        return asdict(self)


def patch_neighbours(points: np.ndarray, k: int, radius: float, centres: np.ndarray | None = None,
                     stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """For each centre (index into ``points``; all points by default): indices ``(M, k)``
    of every ``stride``-th of its ``k * stride`` nearest neighbours within ``radius``
    (itself excluded) and a validity mask; missing neighbours point to the centre itself.
    Only distances choose them, so the patch moves with the cloud."""
    centres = np.arange(len(points)) if centres is None else np.asarray(centres)
    kk = min(k * stride + 1, len(points))
    dist, idx = k_nearest(points, points[centres], kk, radius)
    dist, idx = dist[:, 1::stride], idx[:, 1::stride]
    valid = np.isfinite(dist)
    idx = np.where(valid, idx, centres[:, None])
    if idx.shape[1] < k:
        pad = k - idx.shape[1]
        idx = np.concatenate([idx, np.repeat(centres[:, None], pad, axis=1)], axis=1)
        valid = np.concatenate([valid, np.zeros((len(centres), pad), bool)], axis=1)
    return idx.astype(np.int64), valid


def point_pair_features(points, normals, idx, radius: float, centres=None) -> torch.Tensor:
    """``(N, K, 7)`` features of each point i with its neighbours j.

    With d = p_j - p_i, the Darboux frame u = n_i, v = d x u / |d x u|, w = u x v and
    the neighbour's normal in it (a, b, c) = (n_j.u, n_j.v, n_j.w), h = d.u: flipping n_i
    negates u, v, a, b, h and keeps w, c; flipping n_j negates a, b, c. The features
    |d|, |h|, ab, ach, bch, a^2, c^2 are unchanged by both. Computed without the frame:
    w = (d |u|^2 - h u) / |d x u|, so c = (n_j.d |u|^2 - a h) / |d x u| (zero normals give zero a, b, c).
    """
    p = torch.as_tensor(points, dtype=torch.float32)
    n = torch.as_tensor(normals, dtype=torch.float32)
    idx = torch.as_tensor(idx)
    ci = torch.arange(len(p)) if centres is None else torch.as_tensor(centres)
    d = p[idx] - p[ci].unsqueeze(1)
    u = n[ci].unsqueeze(1)
    nj = n[idx]
    d_cross_u = torch.linalg.cross(d, u.expand_as(d))
    sine = d_cross_u.norm(dim=-1).clamp_min(1e-9)  # |d x u|
    h = (d * u).sum(-1)
    a = (nj * u).sum(-1)
    b = (nj * d_cross_u).sum(-1) / sine
    c = ((nj * d).sum(-1) * (u * u).sum(-1) - a * h) / sine
    h = h / radius
    ch = c * h
    return torch.stack([d.norm(dim=-1) / radius, h.abs(), a * b, a * ch, b * ch, a * a, c * c], dim=-1)


class DescriptorNet(nn.Module):
    """(N, K, 7) pair features + (N, K) mask -> (N, dim) unit descriptors."""

    def __init__(self, config: DescriptorConfig | None = None) -> None:
        super().__init__()
        self.config = config or DescriptorConfig()
        h = self.config.hidden
        # Batch norm keeps the differences between points from vanishing behind a shared
        # offset (without it the unit descriptors collapse to one direction early in training).
        self.pair_mlp = nn.Sequential(
            nn.Linear(PPF_CHANNELS, h // 2), nn.BatchNorm1d(h // 2), nn.ReLU(),
            nn.Linear(h // 2, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, h))
        self.head = nn.Sequential(
            nn.Linear(4 * h, 2 * h), nn.BatchNorm1d(2 * h), nn.ReLU(),
            nn.Linear(2 * h, self.config.dim))

    def forward(self, ppf: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, k, c = ppf.shape
        f = self.pair_mlp(ppf.reshape(n * k, c)).reshape(n, k, -1)
        # Pool over the whole patch and over its inner half: two scales of context.
        inner = mask & (ppf[..., 0] < 0.5)
        x = torch.cat([*_masked_pools(f, mask), *_masked_pools(f, inner)], dim=-1)
        return nn.functional.normalize(self.head(x), dim=-1)


def fold_batch_norm(net: DescriptorNet) -> DescriptorNet:
    """The same network for inference: eval mode, each Linear -> BatchNorm1d pair merged into
    one Linear and the ReLUs in place: equal outputs (up to rounding) for fewer passes over
    the (N * K) rows."""
    net.eval()
    for name in ("pair_mlp", "head"):
        layers = list(getattr(net, name))
        folded = []
        for layer in layers:
            if isinstance(layer, nn.BatchNorm1d) and folded and isinstance(folded[-1], nn.Linear):
                folded[-1] = _merge(folded[-1], layer)
            elif isinstance(layer, nn.ReLU):
                folded.append(nn.ReLU(inplace=True))
            else:
                folded.append(layer)
        setattr(net, name, nn.Sequential(*folded))
    return net


@torch.no_grad()
def _merge(linear: nn.Linear, bn: nn.BatchNorm1d) -> nn.Linear:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    merged = nn.Linear(linear.in_features, linear.out_features)
    merged.weight.copy_(linear.weight * scale[:, None])
    merged.bias.copy_((linear.bias - bn.running_mean) * scale + bn.bias)
    return merged


def _masked_pools(f: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Max and mean of ``f`` (N, K, C) over the neighbours where ``mask`` (N, K) holds (zeros if none)."""
    m = mask.to(f.dtype)
    count = m.sum(1, keepdim=True)
    mean = torch.bmm(m.unsqueeze(1), f).squeeze(1) / count.clamp_min(1.0)
    # One pass: adding -inf where masked is cheaper than a masked copy of f.
    largest = (f + torch.log(m).unsqueeze(-1)).amax(1)
    return torch.where(count > 0, largest, torch.zeros_like(largest)), mean


@dataclass
class DescriptorInputs:
    ppf: torch.Tensor
    mask: torch.Tensor


def descriptor_inputs(points: np.ndarray, normals: np.ndarray, voxel: float, config: DescriptorConfig,
                      centres: np.ndarray | None = None, normal_ok: np.ndarray | None = None) -> DescriptorInputs:
    """Network inputs for the patches around ``centres`` (indices; every point by default).
    Ill-defined normals (``normal_ok`` false) are zeroed: those points contribute distances only."""
    if normal_ok is not None:
        normals = np.where(normal_ok[:, None], normals, 0.0)
    radius = config.radius_voxels * voxel
    idx, valid = patch_neighbours(points, config.neighbours, radius, centres, config.stride)
    return DescriptorInputs(point_pair_features(points, normals, idx, radius, centres), torch.as_tensor(valid))
