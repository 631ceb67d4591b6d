"""SyncNet-like lip-sync discriminator (paper §3.4, DESIGN §3.6; Wav2Lip's expert, reduced).

Visual branch: T=5 lip crops (3 x h x w each, h:w = 1:2) stacked as 15 channels ->
conv stack -> global average -> linear -> L2-normalised embedding e_l.
Audio branch: the (n_mels, 16) lip-sync log-mel window -> 1-D conv stack over time ->
global average -> linear -> L2-normalised embedding e_a.
Similarity (Eq. 6): cos(e_l, e_a) = e_l.e_a / max(|e_l||e_a|, eps), eps = 1e-8.
Loss (Eq. 7 with the signs read correctly, DESIGN §3.6):
  max(0, eta - cos(e_l+, e_a+) + cos(e_l+, e_a-))  [+ max(0, eta - cos(e_a+, e_l+) + cos(e_a+, e_l-))],
eta = 0.5. No BatchNorm [ours]: the net is frozen in eval mode inside generator
training and must behave the same with any batch size / number of processes.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .audio_net import MEL_SCALE, MEL_SHIFT

EPS = 1e-8
MARGIN = 0.5
N_FRAMES = 5


def default_crop(image_size: int) -> Tuple[int, int]:
    """Crop (h, w): 48x96 at 256^2 [ours], never below 24x48."""
    h = max(24, image_size * 3 // 16)
    return h, 2 * h


def crop_lips(frames: torch.Tensor, lip_box: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Differentiable ROI crop. frames (N,3,H,W); lip_box (N,4) pixel box (x0,y0,x1,y1)
    (pixel edges, i.e. x in [0,W]); returns (N,3,h,w) bilinearly resampled through
    affine_grid/grid_sample (align_corners=False), so gradients reach `frames`."""
    n, _, H, W = frames.shape
    box = lip_box.to(frames.dtype)
    x0, y0, x1, y1 = box.unbind(-1)
    theta = torch.zeros(n, 2, 3, dtype=frames.dtype, device=frames.device)
    theta[:, 0, 0] = (x1 - x0) / W
    theta[:, 0, 2] = (x0 + x1) / W - 1
    theta[:, 1, 1] = (y1 - y0) / H
    theta[:, 1, 2] = (y0 + y1) / H - 1
    grid = F.affine_grid(theta, [n, frames.shape[1], size[0], size[1]], align_corners=False)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=False)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Eq. 6."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(EPS)


class _Res2d(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1, stride) if (cin != cout or stride != 1) else nn.Identity()

    def forward(self, x):
        return F.leaky_relu(self.skip(x) + self.c2(F.leaky_relu(self.c1(x), 0.2)), 0.2)


class _Res1d(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv1d(cin, cout, 3, stride, 1)
        self.c2 = nn.Conv1d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv1d(cin, cout, 1, stride) if (cin != cout or stride != 1) else nn.Identity()

    def forward(self, x):
        return F.leaky_relu(self.skip(x) + self.c2(F.leaky_relu(self.c1(x), 0.2)), 0.2)


class SyncNet(nn.Module):
    def __init__(self, n_mels: int = 80, crop: Tuple[int, int] = (48, 96), width: int = 64, embed: int = 256):
        super().__init__()
        self.hparams = dict(n_mels=n_mels, crop=list(crop), width=width, embed=embed)
        self.crop = tuple(crop)
        w = width
        self.visual = nn.Sequential(
            nn.Conv2d(3 * N_FRAMES, w, 5, 1, 2), nn.LeakyReLU(0.2),
            _Res2d(w, w, 2), _Res2d(w, 2 * w, 2), _Res2d(2 * w, 4 * w, 2), _Res2d(4 * w, 4 * w, 2))
        self.visual_out = nn.Linear(4 * w, embed)
        self.audio = nn.Sequential(
            nn.Conv1d(n_mels, 2 * w, 3, 1, 1), nn.LeakyReLU(0.2),
            _Res1d(2 * w, 2 * w, 1), _Res1d(2 * w, 4 * w, 2), _Res1d(4 * w, 4 * w, 2))
        self.audio_out = nn.Linear(4 * w, embed)

    @staticmethod
    def from_checkpoint(path: str, map_location="cpu") -> "SyncNet":
        ck = torch.load(path, map_location=map_location)
        net = SyncNet(**ck["hparams"])
        net.load_state_dict(ck["model"])
        return net

    def embed_lips(self, crops: torch.Tensor) -> torch.Tensor:
        """crops (B,5,3,h,w) in [0,1] -> (B,E) unit vectors."""
        b = crops.shape[0]
        x = (crops.reshape(b, -1, *crops.shape[-2:]) - 0.5) * 2
        x = self.visual(x).mean((2, 3))
        return F.normalize(self.visual_out(x), dim=-1, eps=EPS)

    def embed_audio(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B,n_mels,16) log-mel -> (B,E) unit vectors."""
        x = self.audio((mel + MEL_SHIFT) * MEL_SCALE).mean(-1)
        return F.normalize(self.audio_out(x), dim=-1, eps=EPS)

    def lips_from_frames(self, frames: torch.Tensor, lip_box: torch.Tensor) -> torch.Tensor:
        """frames (B,5,3,H,W), lip_box (B,5,4) -> crops (B,5,3,h,w) (differentiable)."""
        b, t = frames.shape[:2]
        c = crop_lips(frames.reshape(b * t, *frames.shape[2:]), lip_box.reshape(b * t, 4), self.crop)
        return c.reshape(b, t, *c.shape[1:])

    def similarity(self, frames, lip_box, mel) -> torch.Tensor:
        return cosine(self.embed_lips(self.lips_from_frames(frames, lip_box)), self.embed_audio(mel))


def triplet_loss(e_l: torch.Tensor, e_a_pos: torch.Tensor, e_a_neg: torch.Tensor,
                 e_l_neg: Optional[torch.Tensor] = None, margin: float = MARGIN) -> Dict[str, torch.Tensor]:
    """Eq. 7 (signs as in DESIGN §3.6) + the mirrored term when negative lips are given."""
    pos = cosine(e_l, e_a_pos)
    neg = cosine(e_l, e_a_neg)
    loss = F.relu(margin - pos + neg).mean()
    out = {"pos": pos.detach(), "neg": neg.detach()}
    if e_l_neg is not None:
        neg_l = cosine(e_a_pos, e_l_neg)
        loss = loss + F.relu(margin - pos + neg_l).mean()
        out["neg_lips"] = neg_l.detach()
    out["loss"] = loss
    return out


def sync_batch_loss(net: SyncNet, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """SyncNet training loss on a real batch. Negative lips for the mirrored term: the
    next sample's lips in the batch (another clip, or the same clip elsewhere)."""
    crops = net.lips_from_frames(batch["target"], batch["lip_box"])
    e_l = net.embed_lips(crops)
    e_a = net.embed_audio(batch["sync_mel"])
    e_n = net.embed_audio(batch["sync_mel_neg"])
    e_l_neg = e_l.roll(1, 0) if e_l.shape[0] > 1 else None
    return triplet_loss(e_l, e_a, e_n, e_l_neg)
