"""Super-resolution module (DESIGN §3.4): coarse 36-ch render at image/4 -> RGB at image."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig


def up2(x):
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def hide_mouth(image: torch.Tensor, mask: torch.Tensor, below: float) -> torch.Tensor:
    """The SR source branch's input: the source image with the inner face below row
    below*H set to mid-grey [ours]. Given the source's own mouth, the SR learns to copy
    it and the lips never move (observed in the patch-training pilot); hiding it, as
    Wav2Lip hides the lower half of its reference, makes the mouth come through the
    NeRF, i.e. through the audio-driven deformation. below <= 0 disables it.
    image (B,3,H,W) in [0,1]; mask (B,1,H,W) inner-face mask."""
    if below <= 0:
        return image
    rows = (torch.arange(image.shape[-2], device=image.device, dtype=image.dtype) + 0.5) / image.shape[-2]
    hole = mask * (rows >= below).to(image.dtype)[:, None]       # (B,1,H,W)
    return image * (1 - hole) + 0.5 * hole


class SourceBranch(nn.Module):
    """Full (unmasked) source image -> features at image and image/2. Cached per identity."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, c1 = cfg.sr_source_channels
        self.slope = cfg.lrelu_slope
        self.conv_full = nn.Conv2d(3, c0, 3, padding=1)
        self.conv_half = nn.Conv2d(c0, c1, 3, stride=2, padding=1)

    def forward(self, image: torch.Tensor):
        full = F.leaky_relu(self.conv_full(image * 2 - 1), self.slope)
        return full, F.leaky_relu(self.conv_half(full), self.slope)


class SuperResolution(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c0, c1 = cfg.sr_source_channels
        m, o = cfg.sr_mid_channels, cfg.sr_out_channels
        self.slope = cfg.lrelu_slope
        self.mid1 = nn.Conv2d(cfg.coarse_channels + c1, m, 3, padding=1)
        self.mid2 = nn.Conv2d(m, m, 3, padding=1)
        self.mid_rgb = nn.Conv2d(m, 3, 1)
        self.out1 = nn.Conv2d(m + c0, o, 3, padding=1)
        self.out2 = nn.Conv2d(o, o, 3, padding=1)
        self.out_rgb = nn.Conv2d(o, 3, 1)

    def forward(self, coarse: torch.Tensor, src_full: torch.Tensor, src_half: torch.Tensor):
        """coarse (B,36,r,r) = [rgb, feat, alpha]; returns (rgb at image/2, rgb at image)."""
        s = self.slope
        x = up2(coarse)
        h = F.leaky_relu(self.mid1(torch.cat([x, src_half], 1)), s)
        h = F.leaky_relu(self.mid2(h), s)
        rgb_mid = self.mid_rgb(h) + x[:, :3]
        h = F.leaky_relu(self.out1(torch.cat([up2(h), src_full], 1)), s)
        h = F.leaky_relu(self.out2(h), s)
        return rgb_mid, self.out_rgb(h) + up2(rgb_mid)
