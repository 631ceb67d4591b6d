"""Multi-scale feature aggregation with slot attention (paper §3.2; Locatello et al.)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig


class SlotAttention(nn.Module):
    """Slots are initialised from the input tokens themselves [ours], one slot per token."""

    def __init__(self, dim: int, iters: int, mlp: int):
        super().__init__()
        self.iters = iters
        self.scale = dim ** -0.5
        self.norm_inputs = nn.LayerNorm(dim)
        self.norm_slots = nn.LayerNorm(dim)
        self.norm_mlp = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.gru = nn.GRUCell(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.ReLU(), nn.Linear(mlp, dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n, d = tokens.shape
        x = self.norm_inputs(tokens)
        k, v = self.to_k(x), self.to_v(x)
        slots = tokens
        for _ in range(self.iters):
            prev = slots
            q = self.to_q(self.norm_slots(slots))
            logits = torch.einsum("bid,bjd->bij", k, q) * self.scale  # (B, inputs, slots)
            attn = logits.softmax(dim=-1) + 1e-8                       # slots compete
            attn = attn / attn.sum(dim=1, keepdim=True)                # weighted mean over inputs
            updates = torch.einsum("bij,bid->bjd", attn, v)
            slots = self.gru(updates.reshape(-1, d), prev.reshape(-1, d)).reshape(b, -1, d)
            slots = slots + self.mlp(self.norm_mlp(slots))
        return slots


class Aggregator(nn.Module):
    """F^0..F^3 pooled to the F^3 grid, concatenated, LayerNorm, linear, position
    embedding, slot attention -> F_agg (B, grid^2, slot_dim)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cin = 4 * cfg.pyramid_channels
        self.grid = cfg.slot_grid
        self.norm = nn.LayerNorm(cin)
        self.proj = nn.Linear(cin, cfg.slot_dim)
        self.pos = nn.Parameter(torch.randn(cfg.slot_grid ** 2, cfg.slot_dim) * 0.02)
        self.slots = SlotAttention(cfg.slot_dim, cfg.slot_iters, cfg.slot_mlp)

    def forward(self, feats) -> torch.Tensor:
        pooled = [F.avg_pool2d(f, f.shape[-1] // self.grid) if f.shape[-1] != self.grid else f for f in feats]
        x = torch.cat(pooled, 1).flatten(2).transpose(1, 2)  # (B, grid^2, 4*P), token = row*grid+col
        x = self.proj(self.norm(x)) + self.pos
        return self.slots(x)
