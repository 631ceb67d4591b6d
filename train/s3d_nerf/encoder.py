"""Hierarchical Facial Appearance Encoder (paper §3.1, Eq. 1; DESIGN §3.1): the
tri-plane pyramid F^0..F^3. Sampling it (Eq. 2) is triplane.py."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig


def pixel_coords(size: int, device=None) -> torch.Tensor:
    """(2, size, size): x then y of pixel centres in [-1, 1]."""
    c = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / size * 2 - 1
    ys, xs = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xs, ys])


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, slope: float):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.slope = slope

    def forward(self, x):
        x = F.leaky_relu(self.conv1(x), self.slope)
        return F.leaky_relu(self.conv2(x), self.slope)


class UpConv(nn.Module):
    """Up^i of Eq. 1: bilinear x2 then conv3x3 + LeakyReLU [ours]."""

    def __init__(self, ch: int, slope: float):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)
        self.slope = slope

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.leaky_relu(self.conv(x), self.slope)


class HierarchicalEncoder(nn.Module):
    """Masked inner-face image (+2 coordinate channels) -> pyramid F^0..F^3, each with
    3 * plane_channels channels at image/2, /4, /8, /16."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        ch = cfg.enc_channels
        s = cfg.lrelu_slope
        p = cfg.pyramid_channels
        self.down = nn.ModuleList([DownBlock(5 if i == 0 else ch[i - 1], ch[i], s) for i in range(4)])
        self.up = nn.ModuleList([UpConv(p, s) for _ in range(3)])           # up[i] feeds level i
        self.lateral = nn.ModuleList([nn.Conv2d(p + ch[i], p, 1) for i in range(3)])

    def forward(self, image: torch.Tensor, mask: torch.Tensor):
        """image (B,3,H,W) in [0,1]; mask (B,1,H,W) in [0,1]. Returns [F0, F1, F2, F3]."""
        x = (image * 2 - 1) * mask
        coords = pixel_coords(image.shape[-1], image.device).expand(image.shape[0], -1, -1, -1)
        x = torch.cat([x, coords], 1)
        d = []
        for blk in self.down:
            x = blk(x)
            d.append(x)
        feats = [None, None, None, d[3]]
        for i in (2, 1, 0):
            feats[i] = self.lateral[i](torch.cat([self.up[i](feats[i + 1]), d[i]], 1))
        return feats
