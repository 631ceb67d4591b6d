"""Small StyleGAN2-style image discriminator (residual down blocks, optional
minibatch-stddev), R1 penalty and the non-saturating logistic losses (DESIGN §3.6).
No equalised learning rate / blur kernels [ours: kept small for the tiny config];
`forward(x, return_features=True)` also returns the block outputs, used for the
feature-matching perceptual term in losses.py."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class _DownBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cin, 3, 1, 1)
        self.c2 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        y = F.leaky_relu(self.c1(x), 0.2)
        y = F.leaky_relu(self.c2(y), 0.2)
        y = F.avg_pool2d(y, 2)
        s = self.skip(F.avg_pool2d(x, 2))
        return (y + s) / math.sqrt(2)


class ImageDiscriminator(nn.Module):
    def __init__(self, image_size: int, base: int = 32, max_ch: int = 256, mbstd_group: int = 4, end_size: int = 4):
        super().__init__()
        self.mbstd_group = mbstd_group
        self.from_rgb = nn.Conv2d(3, base, 1)
        blocks, ch, s = [], base, image_size
        while s > end_size:
            nxt = min(ch * 2, max_ch)
            blocks.append(_DownBlock(ch, nxt))
            ch, s = nxt, s // 2
        self.blocks = nn.ModuleList(blocks)
        self.conv = nn.Conv2d(ch + (1 if mbstd_group > 1 else 0), ch, 3, 1, 1)
        self.fc = nn.Linear(ch * s * s, ch)
        self.out = nn.Linear(ch, 1)

    def _mbstd(self, x):
        n = x.shape[0]
        g = min(self.mbstd_group, n)
        while n % g:
            g -= 1
        if g <= 1:
            return torch.cat([x, torch.zeros_like(x[:, :1])], 1)
        y = x.reshape(g, -1, *x.shape[1:])
        y = (y.var(0, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))          # (n/g,)
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, *x.shape[2:])
        return torch.cat([x, y], 1)

    def forward(self, img: torch.Tensor, return_features: bool = False):
        """img (N,3,S,S) in [0,1] -> logits (N,) [and list of block features]."""
        x = F.leaky_relu(self.from_rgb(img * 2 - 1), 0.2)
        feats = []
        for b in self.blocks:
            x = b(x)
            feats.append(x)
        if self.mbstd_group > 1:
            x = self._mbstd(x)
        x = F.leaky_relu(self.conv(x), 0.2)
        x = F.leaky_relu(self.fc(x.flatten(1)), 0.2)
        logit = self.out(x).squeeze(1)
        return (logit, feats) if return_features else logit


def d_logistic_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    return F.softplus(fake_logit).mean() + F.softplus(-real_logit).mean()


def g_nonsaturating_loss(fake_logit: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logit).mean()


def r1_penalty(disc: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """E[|grad_x D(x)|^2] on real images (multiply by gamma/2 outside)."""
    real = real.detach().requires_grad_(True)
    logit = disc(real)
    (g,) = torch.autograd.grad(logit.sum(), real, create_graph=True)
    return g.pow(2).flatten(1).sum(1).mean()
