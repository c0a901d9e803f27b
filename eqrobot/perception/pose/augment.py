"""In-plane turns of training images, with the ground truth turned to match.

Turning the camera about its optical axis turns the picture about its centre, so a picture
turned by any angle is the render of the object turned about the camera's z axis, as long as
the object sits on the axis and the light comes along it (both hold for the renders of
``eqrobot.sim.symsol``). The eq network is exactly equivariant to quarter turns only; this
shows every other angle too, and gives the baseline the same data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (torch's own spelling)


def turn_in_plane(images: torch.Tensor, rotations: torch.Tensor, angles: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``images (B, C, H, W)`` turned by ``angles (B,)`` radians about their centres (clockwise
    on the screen: x right, y down) and ``rotations (B, 3, 3)`` turned about the camera's z axis
    to match. Pixels turned in from outside take the nearest border pixel (the background)."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(cos)
    affine = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], -2)
    grid = F.affine_grid(affine.to(images.dtype), list(images.shape), align_corners=False)
    turned = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return turned, about_z(-angles).to(rotations.dtype) @ rotations


def about_z(angles: torch.Tensor) -> torch.Tensor:
    """``(B,)`` radians -> ``(B, 3, 3)`` turns about z."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    zero, one = torch.zeros_like(cos), torch.ones_like(cos)
    return torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1),
                        torch.stack([zero, zero, one], -1)], -2)
