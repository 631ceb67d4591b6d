"""Tri-plane decoder (DESIGN §3.3, as EG3D's OSGDecoder). C++: cpp/model/triplane_decoder.h."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig


class TriplaneDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.point_feat, cfg.decoder_hidden)
        self.fc2 = nn.Linear(cfg.decoder_hidden, 1 + cfg.feat_channels)

    def forward(self, f: torch.Tensor):
        """f (..., 4C) -> sigma_raw (...), feat (..., feat_channels) in [-0.001, 1.001]
        (all feature channels through the scaled sigmoid, as EG3D; rgb = first 3)."""
        x = self.fc2(F.softplus(self.fc1(f)))
        return x[..., 0], torch.sigmoid(x[..., 1:]) * (1 + 2e-3) - 1e-3
