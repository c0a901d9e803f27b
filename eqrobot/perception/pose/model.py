"""Networks that map one image to a density over SO(3), the object's orientation in the
camera's optical frame.

Both kinds end in the same place: the coefficients ``F`` of a function ``f`` on SO(3)
band-limited at degree ``lmax`` (``eqrobot.geometry.harmonics``), read as log-density up to a
constant; ``log_density`` normalises it on a grid of the foundation's HEALPix-Hopf cells.

``eq`` (after Image2Sphere, Klee et al. 2023):
  a CNN run on the image turned by 0, 90, 180 and 270 degrees, each output turned back and
  summed (so its feature maps turn with the image) -> features sampled at HEALPix points of
  the hemisphere that faces the camera (orthographic projection) -> spherical harmonic
  coefficients -> S2 convolution (a learned filter per channel pair, in the spectral domain)
  -> ReLU on an SO(3) grid -> SO(3) convolution -> ``F``.
  Turning the image in-plane by a quarter turn turns the density about the camera's z axis:
  the spectral layers commute with every rotation and the grids the ReLU and the output use
  are closed under quarter turns about z, so this is exact up to rounding.
``base``:
  the same CNN once -> flattened feature map -> MLP -> ``F`` (no symmetry built in).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (torch's own spelling)
from torch import nn

from eqrobot.geometry.grids import SO3Grid, healpix_pix2ang
from eqrobot.geometry.harmonics import num_harmonics, num_so3_features, so3_features, spherical_harmonics

KINDS = ("eq", "base")
LOG_VOLUME = math.log(math.pi**2)  # densities are per unit of SO(3)'s volume pi^2 (IPDF's convention: uniform -2.29)


@dataclass(frozen=True)
class PoseModelConfig:
    kind: str = "eq"
    image_size: int = 128  # images are resized to this (square) before the encoder
    channels: tuple[int, ...] = (32, 64, 128, 256)  # CNN stages, each two 3x3 convolutions then 2x2 pooling
    lmax: int = 8  # band limit of every spherical and SO(3) signal
    sphere_nside: int = 8  # HEALPix points of the lifting hemisphere: 6 nside^2
    sphere_channels: int = 32
    so3_channels: int = 16
    hidden_level: int = 2  # SO(3) grid the ReLU between the spectral layers runs on
    train_level: int = 3  # SO(3) grid the density is normalised on while training (36,864 cells)
    base_hidden: int = 512

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.image_size % 2 ** len(self.channels):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2^{len(self.channels)}")
        object.__setattr__(self, "channels", tuple(self.channels))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PoseModelConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def cnn(channels: tuple[int, ...]) -> nn.Sequential:
    layers, c_in = [], 3
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                   nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        c_in = c
    return nn.Sequential(*layers)


def quarter_turn_features(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``sum_k rot^-k net(rot^k image)``: feature maps that turn with the image by quarter turns."""
    b = images.shape[0]
    turned = torch.cat([torch.rot90(images, k, dims=(2, 3)) for k in range(4)])
    out = net(turned)
    return sum(torch.rot90(out[k * b:(k + 1) * b], -k, dims=(2, 3)) for k in range(4)) / 4


def hemisphere_points(nside: int) -> np.ndarray:
    """HEALPix pixel centres with z < 0 (towards the camera), ``(P, 3)``; closed under quarter turns about z."""
    theta, phi = healpix_pix2ang(nside)
    points = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)
    return points[points[:, 2] < -1e-9]


class SphereLift(nn.Module):
    """Feature maps -> spherical-harmonic coefficients ``(B, C, (lmax+1)^2)``: the map is read
    at the orthographic image of each hemisphere point (x right, y down: the optical frame)."""

    def __init__(self, c_in: int, c_out: int, nside: int, lmax: int) -> None:
        super().__init__()
        points = torch.tensor(hemisphere_points(nside), dtype=torch.float64)
        self.register_buffer("where", points[:, :2].float().view(1, 1, -1, 2), persistent=False)
        area = 4 * math.pi / (12 * nside * nside)
        self.register_buffer("transform", (area * spherical_harmonics(points, lmax)).float(), persistent=False)
        self.mix = nn.Conv1d(c_in, c_out, 1)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        where = self.where.expand(maps.shape[0], -1, -1, -1)
        samples = F.grid_sample(maps, where, align_corners=False).squeeze(2)  # (B, C, P)
        return self.mix(samples) @ self.transform


class S2Conv(nn.Module):
    """Sphere signal coefficients -> SO(3) signal coefficients, a list of ``(B, C, 2l+1, 2l+1)``."""

    def __init__(self, c_in: int, c_out: int, lmax: int) -> None:
        super().__init__()
        self.lmax = lmax
        self.filters = nn.ParameterList(
            [nn.Parameter(torch.randn(c_in, c_out, 2 * l + 1) / math.sqrt(c_in)) for l in range(lmax + 1)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [torch.einsum("bcm,con->bomn", x[:, :, l * l:(l + 1) ** 2], w) for l, w in enumerate(self.filters)]


class SO3Conv(nn.Module):
    """SO(3) signal coefficients -> coefficients: ``F_l -> sum_c F_l[c] W_l[c, o]`` (right
    multiplication, so it commutes with rotations acting on the left)."""

    def __init__(self, c_in: int, c_out: int, lmax: int) -> None:
        super().__init__()
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.randn(c_in, c_out, 2 * l + 1, 2 * l + 1) / math.sqrt(c_in * (2 * l + 1)))
             for l in range(lmax + 1)])

    def forward(self, blocks: list[torch.Tensor]) -> list[torch.Tensor]:
        return [torch.einsum("bcmn,conk->bomk", f, w) for f, w in zip(blocks, self.weights, strict=True)]


class GridReLU(nn.Module):
    """ReLU of an SO(3) signal on a grid, and back to coefficients by least squares."""

    def __init__(self, lmax: int, level: int) -> None:
        super().__init__()
        self.lmax = lmax
        to_grid, from_grid = _grid_projections(level, lmax)
        self.register_buffer("to_grid", to_grid, persistent=False)
        self.register_buffer("from_grid", from_grid, persistent=False)

    def forward(self, blocks: list[torch.Tensor]) -> list[torch.Tensor]:
        flat = flatten_blocks(blocks)
        return unflatten_blocks(F.relu(flat @ self.to_grid) @ self.from_grid, self.lmax)


def flatten_blocks(blocks: list[torch.Tensor]) -> torch.Tensor:
    """``[(…, 2l+1, 2l+1)]`` -> ``(…, K)`` with each block scaled as ``so3_features`` expects
    (``f(R) = flat . so3_features(R)``)."""
    return torch.cat([b.flatten(-2) / math.sqrt(2 * l + 1) for l, b in enumerate(blocks)], dim=-1)


def unflatten_blocks(flat: torch.Tensor, lmax: int) -> list[torch.Tensor]:
    out, i = [], 0
    for l in range(lmax + 1):
        n = (2 * l + 1) ** 2
        out.append(flat[..., i:i + n].unflatten(-1, (2 * l + 1, 2 * l + 1)) * math.sqrt(2 * l + 1))
        i += n
    return out


class PoseNet(nn.Module):
    """``forward(images (B, 3, H, W) in [0, 1]) -> (B, K)`` coefficients of the log-density."""

    def __init__(self, config: PoseModelConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or PoseModelConfig()
        self.encoder = cnn(c.channels)
        side = c.image_size // 2 ** len(c.channels)
        if c.kind == "eq":
            self.lift = SphereLift(c.channels[-1], c.sphere_channels, c.sphere_nside, c.lmax)
            self.s2 = S2Conv(c.sphere_channels, c.so3_channels, c.lmax)
            self.relu = GridReLU(c.lmax, c.hidden_level)
            self.so3 = SO3Conv(c.so3_channels, 1, c.lmax)
        else:
            self.head = nn.Sequential(nn.Conv2d(c.channels[-1], 32, 1), nn.ReLU(inplace=True), nn.Flatten(),
                                      nn.Linear(32 * side * side, c.base_hidden), nn.ReLU(inplace=True),
                                      nn.Linear(c.base_hidden, num_so3_features(c.lmax)))
        self.register_buffer("train_grid", grid_features(c.train_level, c.lmax), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = self.resize(images)
        if self.config.kind == "base":
            return self.head(self.encoder(images))
        maps = quarter_turn_features(self.encoder, images)
        blocks = self.so3(self.relu(self.s2(self.lift(maps))))
        return flatten_blocks(blocks)[:, 0]

    def resize(self, images: torch.Tensor) -> torch.Tensor:
        size = self.config.image_size
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return images


@lru_cache(maxsize=4)
def grid_features(level: int, lmax: int) -> torch.Tensor:
    """``so3_features`` of every cell of the level's grid, ``(K, N)`` float32 (logits = coeffs @ this).
    Computed once per process (level 3: a second and 143 MB at band limit 8); never written to."""
    return _cell_features(level, lmax).T.float().contiguous()


@lru_cache(maxsize=4)
def _grid_projections(level: int, lmax: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(coefficients -> grid values, grid values -> coefficients by least squares), both float32."""
    phi = _cell_features(level, lmax)
    return phi.T.float().contiguous(), torch.linalg.pinv(phi).T.float().contiguous()


def _cell_features(level: int, lmax: int) -> torch.Tensor:
    return so3_features(torch.tensor(SO3Grid(level).rotations, dtype=torch.float64), lmax)  # (N, K)


def shift_right(coeffs: torch.Tensor, q: torch.Tensor, lmax: int) -> torch.Tensor:
    """Coefficients of ``R -> f(R Q)``: a grid turned on the right, without recomputing its features."""
    from eqrobot.geometry.harmonics import wigner_d

    blocks = unflatten_blocks(coeffs, lmax)
    d = wigner_d(q.to(coeffs.dtype), lmax)
    return flatten_blocks([b @ dq.transpose(-1, -2) for b, dq in zip(blocks, d, strict=True)])


def log_normaliser(coeffs: torch.Tensor, grid: torch.Tensor, lmax: int, shifts: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """``log mean exp f`` over the grid's cells (``grid (K, N)`` from ``grid_features``), each
    grid also turned on the right by every rotation in ``shifts (S, 3, 3)`` when given: a
    finer, unbiased estimate of the mean than the grid alone. ``(B, 1)``."""
    if shifts is None:
        return torch.logsumexp(coeffs @ grid, dim=-1, keepdim=True) - math.log(grid.shape[1])
    values = torch.stack([shift_right(coeffs, q, lmax) @ grid for q in shifts], dim=-1).flatten(1)
    return torch.logsumexp(values, dim=-1, keepdim=True) - math.log(values.shape[1])


def log_density_at(coeffs: torch.Tensor, rotations: torch.Tensor, log_z: torch.Tensor, lmax: int) -> torch.Tensor:
    """Log-density (per unit of volume pi^2, IPDF's convention) at ``rotations (B, M, 3, 3)``: ``(B, M)``."""
    values = torch.einsum("bk,bmk->bm", coeffs, so3_features(rotations.to(coeffs.dtype), lmax))
    return values - log_z - LOG_VOLUME


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["KINDS", "PoseModelConfig", "PoseNet", "num_harmonics", "log_density_at", "log_normaliser", "grid_features",
           "shift_right"]
