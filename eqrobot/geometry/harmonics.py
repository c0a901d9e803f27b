"""Real spherical harmonics and real Wigner-D matrices, band-limited at degree ``lmax``.

Degree ``l`` has ``2l + 1`` functions, ordered ``m = -l .. l`` (flat index ``l*l + l + m``);
they are orthonormal on the unit sphere (area 4 pi). ``wigner_d`` gives, for each rotation
``R``, the orthogonal matrices ``D_l(R)`` with ``Y_l(R p) = D_l(R) Y_l(p)`` for every point
``p``: a representation, ``D_l(R1 R2) = D_l(R1) D_l(R2)``. They are found from the harmonics
themselves (``Y_l`` at ``R`` times some fixed points, times the pseudo-inverse of ``Y_l`` at
those points), which keeps one convention for spheres and rotations by construction.

A function on SO(3) band-limited at ``lmax`` is ``f(R) = sum_l <F_l, sqrt(2l+1) D_l(R)>``
(``so3_features`` gives the flattened ``sqrt(2l+1) D_l(R)``, orthonormal under the normalised
Haar measure). Turning its argument on the left, ``f(Q^-1 R)``, maps ``F_l`` to ``D_l(Q) F_l``,
so any linear map acting on the right of ``F_l`` commutes with rotations.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch


def num_harmonics(lmax: int) -> int:
    return (lmax + 1) ** 2


def num_so3_features(lmax: int) -> int:
    return sum((2 * l + 1) ** 2 for l in range(lmax + 1))


def spherical_harmonics(points: torch.Tensor, lmax: int) -> torch.Tensor:
    """``(..., 3)`` unit vectors -> ``(..., (lmax+1)^2)`` real harmonics (polynomials in x, y, z)."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    # Re / Im of (x + iy)^m stand for sin(theta)^m cos / sin(m phi): no angles, no poles
    cos_m, sin_m = [torch.ones_like(x)], [torch.zeros_like(x)]
    for _ in range(lmax):
        c, s = cos_m[-1], sin_m[-1]
        cos_m.append(c * x - s * y)
        sin_m.append(c * y + s * x)
    out = [None] * num_harmonics(lmax)
    for m in range(lmax + 1):
        # Legendre P_l^m divided by sin(theta)^m, by the usual three-term recurrence in l
        q_prev, q = None, torch.full_like(z, float(_double_factorial(2 * m - 1)))
        for l in range(m, lmax + 1):
            if l == m + 1:
                q_prev, q = q, (2 * m + 1) * z * q
            elif l > m + 1:
                q_prev, q = q, ((2 * l - 1) * z * q - (l + m - 1) * q_prev) / (l - m)
            k = math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - m) / math.factorial(l + m))
            if m == 0:
                out[l * l + l] = k * q
            else:
                out[l * l + l + m] = math.sqrt(2) * k * q * cos_m[m]
                out[l * l + l - m] = math.sqrt(2) * k * q * sin_m[m]
    return torch.stack(out, dim=-1)


def wigner_d(rotations: torch.Tensor, lmax: int) -> list[torch.Tensor]:
    """``(..., 3, 3)`` rotations -> ``[D_0, .., D_lmax]``, ``D_l`` of shape ``(..., 2l+1, 2l+1)``."""
    probes, inverses = _probes(lmax, rotations.dtype, rotations.device)
    y = spherical_harmonics(torch.einsum("...ij,pj->...pi", rotations, probes), lmax)  # (..., P, K)
    return [y[..., l * l:(l + 1) ** 2].transpose(-1, -2) @ inverses[l] for l in range(lmax + 1)]


def so3_features(rotations: torch.Tensor, lmax: int) -> torch.Tensor:
    """``(..., 3, 3)`` -> ``(..., num_so3_features(lmax))``: every ``sqrt(2l+1) D_l(R)``, flattened."""
    blocks = wigner_d(rotations, lmax)
    return torch.cat([math.sqrt(2 * l + 1) * d.flatten(-2) for l, d in enumerate(blocks)], dim=-1)


def _double_factorial(n: int) -> int:
    return math.prod(range(n, 0, -2)) if n > 0 else 1


@lru_cache(maxsize=8)
def _probes_cpu(lmax: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(4 * lmax + 4, 3, generator=generator, dtype=torch.float64)
    points = points / points.norm(dim=1, keepdim=True)
    y = spherical_harmonics(points, lmax)
    inverses = [torch.linalg.pinv(y[:, l * l:(l + 1) ** 2].T) for l in range(lmax + 1)]  # (P, 2l+1)
    return points, inverses


def _probes(lmax: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor]]:
    points, inverses = _probes_cpu(lmax)
    return points.to(device, dtype), [m.to(device, dtype) for m in inverses]
