"""Audio net (DESIGN §3.2): 1-D fully convolutional net over the log-mel window."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig

# Fixed affine that maps log-mel (about [-11.5, 5]) near [-2, 2] [ours].
MEL_SHIFT = 4.0
MEL_SCALE = 0.25


class AudioNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c = cfg.audio_channels
        self.slope = cfg.lrelu_slope
        self.convs = nn.ModuleList([
            nn.Conv1d(cfg.audio.n_mels, c, 3, padding=1),
            nn.Conv1d(c, c, 3, stride=2, padding=1),
            nn.Conv1d(c, c, 3, stride=2, padding=1),
            nn.Conv1d(c, c, 3, padding=1),
        ])
        self.code = nn.Linear(c, cfg.audio_code)

    def forward(self, mel: torch.Tensor):
        """mel (B, n_mels, window) -> tokens a_dri (B, window/4, C), code (B, audio_code)."""
        x = (mel + MEL_SHIFT) * MEL_SCALE
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = F.leaky_relu(x, self.slope)
        tokens = x.transpose(1, 2)
        return tokens, self.code(tokens.mean(1))
