"""Multi-head cross attention between the aggregated face embedding and the audio
tokens (paper Eq. 3), and the 1x1 map to the F_cm feature map (DESIGN §3.2)."""
from __future__ import annotations

import torch
import torch.nn as nn

from .config import ModelConfig


class CrossModalAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.slot_dim
        self.heads = cfg.heads
        self.grid = cfg.slot_grid
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(cfg.audio_channels, d)
        self.v_proj = nn.Linear(cfg.audio_channels, d)
        self.out_proj = nn.Linear(d, d)
        self.to_map = nn.Linear(d, cfg.cm_channels)

    def query(self, f_agg: torch.Tensor) -> torch.Tensor:
        """Cached per identity."""
        return self.q_proj(f_agg)

    def forward(self, q: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """q (B, S, D) from query(); tokens (B, T, Ca) -> F_cm map (B, cm, grid, grid). No residual."""
        b, s, d = q.shape
        h = self.heads
        k = self.k_proj(tokens)
        v = self.v_proj(tokens)
        qh = q.view(b, s, h, d // h).transpose(1, 2)
        kh = k.view(b, -1, h, d // h).transpose(1, 2)
        vh = v.view(b, -1, h, d // h).transpose(1, 2)
        attn = (qh @ kh.transpose(-1, -2) * (d // h) ** -0.5).softmax(-1)
        out = (attn @ vh).transpose(1, 2).reshape(b, s, d)
        cm = self.to_map(self.out_proj(out))  # (B, S, cm)
        return cm.transpose(1, 2).reshape(b, -1, self.grid, self.grid)
