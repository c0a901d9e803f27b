"""Transporter networks (Zeng et al. 2020): a fully convolutional attention network scores
pick pixels; a transport network cross-correlates the features of a crop around the pick with
the scene's features, the crop turned through ``rotations`` angles, and scores (angle, place
pixel). ``agent="base"`` uses plain U-Nets; ``agent="eq"`` uses C_n-steerable ones
(``equivariant.py``, Huang et al. 2022), which makes the pick turn with the scene and the place
turn with the scene and with the picked object: SE(2) x SE(2) bi-equivariance.

Image axes: row along the workspace's y, column along x (``eqrobot.geometry.heightmap``), so
a turn of the crop by +theta in (column, row) coordinates is a turn by +theta about the
world's z axis.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn
from torch.nn import functional

IN_CHANNELS = 4  # colour (3) and height (1), normalised
AGENTS = ("base", "eq")


@dataclass
class TransporterConfig:
    agent: str = "base"  # "base": plain U-Nets; "eq": C_order-steerable U-Nets
    width: int = 8  # base: channels of the first level of the FCNs (CPU-sized; 32+ on a GPU)
    fields: int = 4  # eq: regular C_order fields of the first level (fields * order channels)
    order: int = 8  # eq: the rotation group C_order (quarter turns exact when divisible by 4)
    depth: int = 3  # down-sampling levels
    features: int = 3  # channels of the transport's key and query features (as in Ravens)
    crop: int = 64  # pixels, side of the crop around the pick (taken as crop + 1, centred on the pick)
    rotations: int = 36  # place angles (10 deg apart)
    # Pick scores are the attention network's output times this gain. x10 brings the pick loss
    # down within ~50 steps instead of 150-300 (the demonstrated pick must stand ~10 nats above
    # 51200 pixels, reached by Adam's fixed-size steps from a small initial output), but after
    # 500 steps the eq agent did not do better (50 test episodes, x10 / x1 at 1 and 10 demos:
    # block-insertion 88 / 96 and 96 / 96 %, place-red-in-green 86 / 90 and 96 / 92 %): 1 stays.
    pick_gain: float = 1.0

    def __post_init__(self) -> None:
        if self.agent not in AGENTS:
            raise ValueError(f"agent must be one of {', '.join(AGENTS)}, got '{self.agent}'")
        if self.crop % 2 or self.crop < 8:
            raise ValueError(f"crop must be an even number of pixels >= 8, got {self.crop}")
        if self.rotations < 1:
            raise ValueError(f"rotations must be positive, got {self.rotations}")
        if not self.pick_gain > 0:
            raise ValueError(f"pick_gain must be positive, got {self.pick_gain}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, options: dict) -> TransporterConfig:
        """A checkpoint's settings; options it lacks (saved before they existed) take their defaults.
        Raises ``ValueError`` on options this version does not know (a newer checkpoint)."""
        unknown = sorted(options.keys() - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"transporter settings this version does not know: {', '.join(unknown)}")
        return cls(**options)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(min(8, cout), cout), nn.ReLU(inplace=True))


class FCN(nn.Module):
    """A small U-Net: ``depth`` halvings of the resolution and back, with skip connections;
    output at the input's resolution (any size divisible by 2**(depth + 1)). The first
    block already works at half resolution (a stride-2 stem) and a last 3x3 convolution over
    the upsampled features and the input restores pixel precision: full-resolution layers
    cost most on a CPU."""

    def __init__(self, cin: int, cout: int, width: int = 32, depth: int = 3) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(depth + 1)]
        self.stem = nn.Sequential(nn.Conv2d(cin, widths[0], 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.down = nn.ModuleList([_block(widths[0], widths[0])] + [_block(widths[i], widths[i + 1])
                                                                      for i in range(depth)])
        self.up = nn.ModuleList([_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Sequential(nn.Conv2d(widths[0] + cin, widths[0], 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(widths[0], cout, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.stem(image)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else functional.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = block(torch.cat([functional.interpolate(x, size=skip.shape[-2:], mode="nearest"), skip], dim=1))
        x = functional.interpolate(x, size=image.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(torch.cat([x, image], dim=1))


def rotate(images: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """``images`` (N, C, H, W) turned by each of ``angles`` (R,) radians about their centres:
    (R * N, C, H, W), angle-major. Content at offset (dx, dy) from the centre moves to
    R(theta) (dx, dy) in (column, row) pixel coordinates, also for non-square images."""
    n, _, h, w = images.shape
    cos, sin = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(cos)
    # affine_grid maps output to input in coordinates normalised per axis: the inverse turn
    # R(-theta), conjugated by the axes' scales (w / 2, h / 2) so it stays a rigid turn.
    theta = torch.stack([torch.stack([cos, sin * h / w, zero], -1),
                         torch.stack([-sin * w / h, cos, zero], -1)], dim=1)  # (R, 2, 3)
    theta = theta.repeat_interleave(n, dim=0)
    grid = functional.affine_grid(theta, [len(theta), *images.shape[1:]], align_corners=False)
    return functional.grid_sample(images.repeat(len(angles), 1, 1, 1), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)


def rotate_pixels(rc: torch.Tensor, angle: float, shape: tuple[int, int]) -> torch.Tensor:
    """(row, col) pixels moved the way ``rotate`` moves image content (about the image centre)."""
    h, w = shape
    centre = torch.tensor([(h - 1) / 2, (w - 1) / 2], dtype=torch.float64)
    d = rc.to(torch.float64) - centre
    cos, sin = math.cos(angle), math.sin(angle)
    # (dx, dy) = (col, row) offsets -> R(theta) (dx, dy)
    col = cos * d[..., 1] - sin * d[..., 0]
    row = sin * d[..., 1] + cos * d[..., 0]
    return torch.stack([row, col], dim=-1) + centre


class Transporter(nn.Module):
    def __init__(self, config: TransporterConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or TransporterConfig()
        self.attention = _network(c, 1)
        self.key = _network(c, c.features)
        self.query = _network(c, c.features)
        self.register_buffer("angles", place_angles(c.rotations), persistent=False)

    def weights(self) -> dict[str, torch.Tensor]:
        """The learned tensors. escnn's buffers (filter bases, expanded filters) are derived
        from them and the group, tens of MB, so checkpoints leave them out."""
        return {name: p.detach() for name, p in self.named_parameters()}

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        params = dict(self.named_parameters())
        missing, unexpected = params.keys() - tensors.keys(), tensors.keys() - params.keys()
        if missing or unexpected:
            raise ValueError(f"weights do not fit a {self.config.agent} Transporter: {len(missing)} missing "
                             f"(e.g. {sorted(missing)[:2]}), {len(unexpected)} unexpected "
                             f"(e.g. {sorted(unexpected)[:2]})")
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(tensors[name])
        if not self.training:
            self.train(False)  # escnn expands its filters again from the new weights

    def pick_logits(self, scene: torch.Tensor) -> torch.Tensor:
        """(N, 4, H, W) -> (N, H, W) pick scores."""
        return self.attention(scene)[:, 0] * self.config.pick_gain

    def place_logits(self, scene: torch.Tensor, pick_rc: torch.Tensor, angles: torch.Tensor | None = None
                     ) -> torch.Tensor:
        """(N, 4, H, W) scenes and (N, 2) integer (row, col) picks -> (N, R, H, W) place scores:
        at (r, y, x), how well the crop around the pick, turned by angle r, matches the scene
        centred at (y, x). ``angles`` (R,) radians: the trained bins ``self.angles`` by default."""
        return self.transport(self.key(scene), self.crops(scene, pick_rc), angles)

    def crops(self, scene: torch.Tensor, pick_rc: torch.Tensor) -> torch.Tensor:
        """(N, 4, crop + 1, crop + 1): the scene within crop / 2 pixels of each pick pixel (zeros
        beyond the image). An odd side puts the pick on the centre pixel, so that turning the
        crop turns it about the pick, exactly for quarter turns."""
        half = self.config.crop // 2
        padded = functional.pad(scene, (half, half, half, half))
        return torch.stack([padded[i, :, r:r + 2 * half + 1, col:col + 2 * half + 1]
                            for i, (r, col) in enumerate(pick_rc.tolist())])

    def transport(self, keys: torch.Tensor, crops: torch.Tensor, angles: torch.Tensor | None = None) -> torch.Tensor:
        """(N, F, H, W) scene features and (N, 4, crop + 1, crop + 1) crops -> (N, R, H, W)
        place scores, the crop's features turned by each of ``angles`` (``self.angles`` by default)."""
        c = self.config
        angles = self.angles if angles is None else angles
        n, side = keys.shape[0], crops.shape[-1]
        queries = rotate(self.query(crops), angles)  # (R * N, F, side, side), angle-major
        queries = queries.view(len(angles), n, c.features, side, side)
        # Scaled like a dot product of F * crop^2 terms, so that the scores start near unit size.
        scale = math.sqrt(c.features) * c.crop
        return torch.cat([correlate(keys[i], queries[:, i]) for i in range(n)]) / scale


def place_angles(n: int) -> torch.Tensor:
    """``n`` place angles, evenly spaced over a full turn from 0."""
    return torch.arange(n) * (2 * math.pi / n)


def _network(c: TransporterConfig, cout: int) -> nn.Module:
    if c.agent == "eq":
        from eqrobot.policy.transporter.equivariant import EquivariantFCN

        return EquivariantFCN(IN_CHANNELS, cout, c.fields, c.depth, c.order)
    return FCN(IN_CHANNELS, cout, c.width, c.depth)


def correlate(features: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """(F, H, W) features and (R, F, k, k) kernels -> (1, R, H, W): at (r, y, x) the sum over
    f, i, j of features[f, y + i - k//2, x + j - k//2] * kernels[r, f, i, j] (zeros outside
    the image; for odd k the kernel's centre pixel lands on (y, x)). Computed by FFT: a direct
    convolution with 36 kernels of 64 x 64 over a 320 x 160 map costs tens of seconds per step
    on a CPU (ENVIRONMENT.md: 50 s vs 0.14 s)."""
    _, h, w = features.shape
    k = kernels.shape[-1]
    size = (h + k, w + k)  # room for the kernel on every side: no wrap-around
    f = torch.fft.rfft2(functional.pad(features, (k // 2, k // 2, k // 2, k // 2)), s=size)
    g = torch.fft.rfft2(kernels, s=size)
    out = torch.fft.irfft2(torch.einsum("fhw,rfhw->rhw", f, g.conj()), s=size)
    return out[None, :, :h, :w]
