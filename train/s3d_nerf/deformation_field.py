"""Deformation field: the U-Net-like deformation MLP (paper Eq. 4; DESIGN §3.2).
C++: cpp/model/deformation_field.h (DeformationField)."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig
from .triplane import sample_map


def positional_encoding(x: torch.Tensor, freqs: int) -> torch.Tensor:
    """[x, sin(2^0 pi x), cos(2^0 pi x), ..., sin(2^(L-1) pi x), cos(...)], each block 3 wide."""
    out = [x]
    for k in range(freqs):
        a = x * (math.pi * 2.0 ** k)
        out += [torch.sin(a), torch.cos(a)]
    return torch.cat(out, -1)


class DeformationField(nn.Module):
    """Input: gamma(x_s) + F_cm sampled at the point's (x, y) + audio code. Encoder
    in->h0->h1->h2, decoder h2->h1 (+skip h1) -> h0 (+skip h0) -> 3. ReLU [ours];
    the last layer starts at zero so training begins from the undeformed face."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        h0, h1, h2 = cfg.deform_hidden
        self.freqs = cfg.pe_freqs
        self.scale = cfg.plane_scale[:2]  # F_cm is image-aligned like the XY plane
        self.e1 = nn.Linear(cfg.deform_in, h0)
        self.e2 = nn.Linear(h0, h1)
        self.e3 = nn.Linear(h1, h2)
        self.d1 = nn.Linear(h2, h1)
        self.d2 = nn.Linear(2 * h1, h0)
        self.d3 = nn.Linear(2 * h0, 3)
        nn.init.zeros_(self.d3.weight)
        nn.init.zeros_(self.d3.bias)

    def forward(self, xs: torch.Tensor, cm: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """xs (B,N,3) source-frame points; cm (B,C,g,g); code (B,A) -> dx (B,N,3)."""
        fcm = sample_map(cm, xs[..., :2] * torch.tensor(self.scale, dtype=xs.dtype, device=xs.device))
        x = torch.cat([positional_encoding(xs, self.freqs), fcm, code[:, None].expand(-1, xs.shape[1], -1)], -1)
        a = F.relu(self.e1(x))
        b = F.relu(self.e2(a))
        c = F.relu(self.e3(b))
        d = F.relu(self.d1(c))
        e = F.relu(self.d2(torch.cat([d, b], -1)))
        return self.d3(torch.cat([e, a], -1))
