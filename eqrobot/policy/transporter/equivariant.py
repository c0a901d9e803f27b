"""The equivariant Transporter's networks (after Huang et al., RSS 2022): C_n-steerable
U-Nets built with escnn, with the same tensor-in, tensor-out interface as ``model.FCN``.

Colour and height are scalar fields; hidden layers carry regular fields of C_n; outputs are
scalar (invariant) fields, so turning the input image by a multiple of 360/n degrees turns the
output image alike: the pick scores turn with the scene, the transport's key features turn with
the scene and its query features with the crop. Exact on the pixel grid for quarter turns (n
divisible by 4) about the image centre, for two kinds of images: even sides divisible by
2**(depth + 1) (the heightmap; 2x2 pooling) and odd sides of the form 2**(depth + 1) * m + 1
(the crop centred on the pick; 3x3 pooling with stride 2, whose windows are centred on even
pixels, so the centre pixel stays the centre at every level).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn import functional

with warnings.catch_warnings():
    # escnn falls back to numerical SO(3) Clebsch-Gordan coefficients without py3nj (a Fortran
    # build); the planar groups used here never need them.
    warnings.filterwarnings("ignore", message=".*py3nj.*")
    from escnn import gspaces
    from escnn import nn as enn


class FieldNorm(enn.EquivariantModule):
    """Group normalisation over whole regular fields, one scale and shift per field: turning
    the image permutes channels within fields and moves pixels, neither changes the statistics."""

    def __init__(self, field_type: enn.FieldType, groups: int = 8) -> None:
        super().__init__()
        self.in_type = self.out_type = field_type
        fields = len(field_type)
        self.size = field_type.representations[0].size
        self.groups = next(g for g in range(min(groups, fields), 0, -1) if fields % g == 0)
        self.weight = nn.Parameter(torch.ones(fields))
        self.bias = nn.Parameter(torch.zeros(fields))

    def forward(self, x: enn.GeometricTensor) -> enn.GeometricTensor:
        out = functional.group_norm(x.tensor, self.groups, self.weight.repeat_interleave(self.size),
                                    self.bias.repeat_interleave(self.size))
        return enn.GeometricTensor(out, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape


def _conv(cin: enn.FieldType, cout: enn.FieldType, size: int, padding: int = 0) -> enn.R2Conv:
    # recompute: escnn otherwise hands every layer with the same basis one module from a
    # process-wide cache, so moving one model to the GPU would move it under all the others
    # (a CPU model built after a GPU one then fails with tensors on two devices).
    return enn.R2Conv(cin, cout, size, padding=padding, recompute=True)


def _block(cin: enn.FieldType, cout: enn.FieldType) -> enn.SequentialModule:
    return enn.SequentialModule(_conv(cin, cout, 3, padding=1), FieldNorm(cout), enn.ReLU(cout, inplace=True),
                                _conv(cout, cout, 3, padding=1), FieldNorm(cout), enn.ReLU(cout, inplace=True))


class EquivariantFCN(nn.Module):
    """``model.FCN``'s U-Net with C_``order``-steerable layers: ``width`` regular fields at the
    first level, doubling per level. The stem is a full-resolution convolution and a 2x2 max
    pool (a strided convolution would break the symmetry on even-sized images)."""

    def __init__(self, cin: int, cout: int, width: int = 4, depth: int = 3, order: int = 8) -> None:
        super().__init__()
        gs = gspaces.rot2dOnR2(N=order)
        self.in_type = enn.FieldType(gs, cin * [gs.trivial_repr])
        levels = [enn.FieldType(gs, width * 2**i * [gs.regular_repr]) for i in range(depth + 1)]
        self.stem = enn.SequentialModule(_conv(self.in_type, levels[0], 3, padding=1),
                                         enn.ReLU(levels[0], inplace=True))
        self.down = nn.ModuleList([_block(levels[0], levels[0])] + [_block(levels[i], levels[i + 1])
                                                                     for i in range(depth)])
        self.up = nn.ModuleList([_block(levels[i + 1] + levels[i], levels[i]) for i in reversed(range(depth))])
        self.head = enn.SequentialModule(_conv(levels[0] + self.in_type, levels[0], 3, padding=1),
                                         enn.ReLU(levels[0], inplace=True),
                                         _conv(levels[0], enn.FieldType(gs, cout * [gs.trivial_repr]), 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        inp = enn.GeometricTensor(image, self.in_type)
        x = _pool(self.stem(inp))
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else _pool(x))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = block(enn.tensor_directsum([_resize(x, skip.shape[-2:], "nearest"), skip]))
        x = _resize(x, image.shape[-2:], "bilinear")
        return self.head(enn.tensor_directsum([x, inp])).tensor


def _pool(x: enn.GeometricTensor) -> enn.GeometricTensor:
    """Max over 2x2 blocks (even sides) or over 3x3 windows centred on the even pixels (odd
    sides): both commute with quarter turns about the centre. Pointwise on regular fields."""
    if x.shape[-1] % 2:
        return enn.GeometricTensor(functional.max_pool2d(x.tensor, 3, 2, padding=1), x.type)
    return enn.GeometricTensor(functional.max_pool2d(x.tensor, 2), x.type)


def _resize(x: enn.GeometricTensor, size, mode: str) -> enn.GeometricTensor:
    # Upsampling by a whole factor with symmetric interpolation commutes with quarter turns
    # (odd sides: 2m - 1 from m, grid ends kept); escnn's R2Upsampling needs a module per size.
    if size[-1] % 2:
        out = functional.interpolate(x.tensor, size=tuple(size), mode="bilinear", align_corners=True)
    else:
        kwargs = {"align_corners": False} if mode == "bilinear" else {}
        out = functional.interpolate(x.tensor, size=tuple(size), mode=mode, **kwargs)
    return enn.GeometricTensor(out, x.type)
