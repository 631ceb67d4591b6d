"""Generator loss, paper Eq. 9 (DESIGN §3.6):

  L = L_pix + 0.01 L_per + 1 L_adv (after warm-up) + 0.5 (1 - cos(e_l^gen, e_a^gt)) + 0.001 |dx|^2

applied to the coarse NeRF image (against the target downsampled to render size;
masked by the target inner-face mask when the sample carries one, since the NeRF
renders only the inner face) and to the fine SR output (against the full target).

Perceptual term, our choice: 1 - MS-SSIM (implemented below), plus optional
feature matching on the image discriminator's block features.
No ImageNet backbone (VGG/AlexNet for LPIPS) can be downloaded here, and
shipping one would tie training to weights we cannot audit. MS-SSIM is
parameter-free, so it is stable from step 0 (feature matching against a
discriminator that is itself training is only meaningful after the adversarial
warm-up) and it targets exactly what the L2 term misses: local structure and
contrast at several scales (blur is what L2 alone produces). Feature matching
(L1 between D's features of fake and real) is added when a discriminator is
passed and `fm_weight` > 0; it is off by default.
"""
from __future__ import annotations

import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F

MSSSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
C1, C2 = 0.01 ** 2, 0.03 ** 2

W_PIX, W_PER, W_ADV, W_SYNC, W_DELTA = 1.0, 0.01, 1.0, 0.5, 0.001


def _gauss(win: int, sigma: float, device, dtype):
    x = torch.arange(win, dtype=dtype, device=device) - (win - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _filter(x, g):
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _ssim_cs(x, y, g):
    mx, my = _filter(x, g), _filter(y, g)
    sxx = _filter(x * x, g) - mx * mx
    syy = _filter(y * y, g) - my * my
    sxy = _filter(x * y, g) - mx * my
    cs = (2 * sxy + C2) / (sxx + syy + C2)
    ssim = (2 * mx * my + C1) / (mx * mx + my * my + C1) * cs
    return ssim.flatten(1).mean(1), cs.flatten(1).mean(1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, max_levels: int = 5) -> torch.Tensor:
    """MS-SSIM (Wang et al. 2003) of images in [0,1], (N,C,H,W) -> (N,).
    Gaussian window 11 (sigma 1.5) for images >= 64 px, else 7 (sigma 1.0); as many
    of the 5 scales as fit (the window must fit at the coarsest), weights renormalised.
    cs/ssim are clamped at 1e-6 before the fractional powers (negative values would
    give NaN)."""
    side = min(x.shape[-2:])
    win, sigma = (11, 1.5) if side >= 64 else (7, 1.0)
    win = min(win, side - (1 - side % 2))  # odd and <= side
    levels = max(1, min(max_levels, int(math.floor(math.log2(side / win))) + 1))
    w = torch.tensor(MSSSIM_WEIGHTS[:levels], dtype=x.dtype, device=x.device)
    w = w / w.sum()
    g = _gauss(win, sigma, x.device, x.dtype)
    out = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    for i in range(levels):
        ssim, cs = _ssim_cs(x, y, g)
        if i < levels - 1:
            out = out * cs.clamp_min(1e-6) ** w[i]
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        else:
            out = out * ssim.clamp_min(1e-6) ** w[i]
    return out


def _down(img: torch.Tensor, size: int) -> torch.Tensor:
    if img.shape[-1] == size:
        return img
    return F.interpolate(img, size=(size, size), mode="area")


def _masked_mse(a, b, mask=None):
    if mask is None:
        return F.mse_loss(a, b)
    m = mask.expand_as(a)
    return ((a - b) ** 2 * m).sum() / m.sum().clamp_min(1.0)


def generator_loss(coarse_rgb: torch.Tensor, fine_rgb: torch.Tensor, target: torch.Tensor,
                   delta: torch.Tensor, *, target_mask: Optional[torch.Tensor] = None,
                   disc=None, adv_weight: float = 0.0, fm_weight: float = 0.0,
                   sync_net=None, lip_box: Optional[torch.Tensor] = None, sync_mel: Optional[torch.Tensor] = None,
                   n_frames: int = 5, w_sync: float = W_SYNC) -> Dict[str, torch.Tensor]:
    """coarse_rgb (N,3,r,r), fine_rgb (N,3,S,S), target (N,3,S,S), N = B*n_frames frames
    ordered sample-major; delta: every deformation vector evaluated (any shape (...,3));
    target_mask (N,1,S,S) optional; lip_box (B,n_frames,4) and sync_mel (B,n_mels,16)
    for the sync term; adv_weight 0 = before/without the adversarial phase.
    Returns named terms (already weighted ones are prefixed w_) and 'total'."""
    r = coarse_rgb.shape[-1]
    t_small = _down(target, r)
    m_small = _down(target_mask, r) if target_mask is not None else None
    out: Dict[str, torch.Tensor] = {}
    out["pix_coarse"] = _masked_mse(coarse_rgb, t_small, m_small)
    out["pix_fine"] = F.mse_loss(fine_rgb, target)
    out["msssim_coarse"] = 1 - ms_ssim(coarse_rgb.clamp(0, 1), t_small).mean()
    out["msssim_fine"] = 1 - ms_ssim(fine_rgb.clamp(0, 1), target).mean()
    per = out["msssim_coarse"] + out["msssim_fine"]
    total = W_PIX * (out["pix_coarse"] + out["pix_fine"])
    if disc is not None and (adv_weight > 0 or fm_weight > 0):
        logit, f_fake = disc(fine_rgb, return_features=True)
        out["adv"] = F.softplus(-logit).mean()
        total = total + adv_weight * out["adv"]
        if fm_weight > 0:
            with torch.no_grad():
                _, f_real = disc(target, return_features=True)
            out["feat_match"] = sum(F.l1_loss(a, b) for a, b in zip(f_fake, f_real)) / len(f_real)
            per = per + fm_weight * out["feat_match"]
    out["perceptual"] = per
    total = total + W_PER * per
    if sync_net is not None and sync_mel is not None and w_sync > 0:
        b = sync_mel.shape[0]
        frames = fine_rgb.reshape(b, n_frames, *fine_rgb.shape[1:])
        cos = sync_net.similarity(frames, lip_box, sync_mel)
        out["sync"] = 1 - cos.mean()
        total = total + w_sync * out["sync"]
    out["delta"] = delta.pow(2).sum(-1).mean()
    total = total + W_DELTA * out["delta"]
    out["total"] = total
    return out
