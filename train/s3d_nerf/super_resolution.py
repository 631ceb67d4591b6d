"""Super-resolution module (DESIGN §3.4): coarse 36-ch render at image/4 -> RGB at image."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig


def up2(x):
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def hole_weight(size: int, box, feather: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """(size, size) weight of the SR source's mouth hole [ours]: 1 inside box = [x0, y0,
    x1, y1] (fractions of the aligned crop), 0 outside, a linear ramp of width feather
    centred on each edge. Pixel (x, y) is judged at its centre ((x + 0.5) / size, ...).
    feather 0 is a hard edge that includes the boundary; an empty box is no hole."""
    if len(box) == 0:
        return torch.zeros(size, size, dtype=dtype, device=device)
    c = (torch.arange(size, device=device, dtype=dtype) + 0.5) / size          # (size,) pixel centres

    def ramp(lo: float, hi: float) -> torch.Tensor:                             # (size,)
        d = torch.minimum(c - lo, hi - c)                                        # signed distance inside
        return (d / feather + 0.5).clamp(0, 1) if feather > 0 else (d >= 0).to(dtype)

    x0, y0, x1, y1 = box
    return ramp(y0, y1)[:, None] * ramp(x0, x1)[None, :]


def mouth_hole(mask: torch.Tensor, box, feather: float) -> torch.Tensor:
    """(B,1,H,W) weight of the SR source's mouth hole [ours]: the inner-face mask (B,1,H,W)
    times hole_weight. The source branch sees the mouth hidden (hide_mouth): given the
    source's own mouth, the SR learns to copy it and the lips never move (observed in the
    patch-training pilot); hiding it, as Wav2Lip hides the lower half of its reference,
    makes the mouth come through the NeRF, i.e. through the audio-driven deformation. The
    first models hid every row below 0.58 (box [0, 0.58, 1, 1], feather 0): the cheeks
    and chin came out as blurred as the mouth, behind a visible seam."""
    return mask * hole_weight(mask.shape[-1], box, feather, mask.dtype, mask.device)


def hide_mouth(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """image (B,3,H,W) in [0,1] with mid-grey blended in by hole (B,1,H,W): what the SR
    source branch sees."""
    return image * (1 - hole) + 0.5 * hole


# The gate logit is GATE_GAIN x the last conv's 4th output [ours]. Adam moves a weight by
# about lr per step whatever its gradient, so at gain 1 the gate stayed at 0.49 +- 0.01 for
# 1,500 steps (lr 2e-4) while the colours absorbed the half-and-half blend; at gain 8 the
# gate moves as fast as a colour does in its own range.
GATE_GAIN = 8.0
# Gate bias of a fresh or upgraded gate row: g = sigmoid(3) = 0.95, i.e. start from the
# source (sharp) and learn where to generate instead (the mouth, moved regions).
GATE_INIT_LOGIT = 3.0


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
        self.gate = cfg.sr_source_gate
        self.paste = cfg.sr_paste_source
        self.out_rgb = nn.Conv2d(o, 4 if self.gate else 3, 1)   # rgb [+ gate logit / GATE_GAIN]
        if self.gate:
            with torch.no_grad():
                self.out_rgb.weight[3].zero_()
                self.out_rgb.bias[3] = GATE_INIT_LOGIT / GATE_GAIN

    def forward(self, coarse: torch.Tensor, src_full: torch.Tensor, src_half: torch.Tensor,
                src_image: torch.Tensor | None = None, src_keep: torch.Tensor | None = None):
        """coarse (B,36,r,r) = [rgb, feat, alpha]; src_full/src_half the source branch's
        features; src_image (B,3,H,W) the source as the branch saw it (hide_mouth), needed
        with sr_source_gate or sr_paste_source; src_keep (B,1,H,W) = 1 - the mouth hole,
        needed with sr_paste_source. Returns (rgb at image/2, rgb at image)."""
        s = self.slope
        x = up2(coarse)
        h = F.leaky_relu(self.mid1(torch.cat([x, src_half], 1)), s)
        h = F.leaky_relu(self.mid2(h), s)
        rgb_mid = self.mid_rgb(h) + x[:, :3]
        h = F.leaky_relu(self.out1(torch.cat([up2(h), src_full], 1)), s)
        h = F.leaky_relu(self.out2(h), s)
        out = self.out_rgb(h)
        rgb = out[:, :3] + up2(rgb_mid)
        if self.paste:
            if src_image is None or src_keep is None:
                raise ValueError("this SR pastes the source outside the mouth hole (sr_paste_source): "
                                 "pass src_image and src_keep")
            return rgb_mid, rgb + src_keep * (src_image - rgb)
        if not self.gate:
            return rgb_mid, rgb
        if src_image is None:
            raise ValueError("this SR has a source gate (sr_source_gate): pass src_image")
        g = torch.sigmoid(GATE_GAIN * out[:, 3:4])                      # (B,1,H,W)
        return rgb_mid, rgb + g * (src_image - rgb)
