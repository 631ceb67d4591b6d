"""Volume rendering with midpoint quadrature (paper Eq. 5, as EG3D's ray marcher)
and importance resampling of the coarse samples (DESIGN §3.3). C++: cpp/model/volume_render.h;
the per-ray caller is nerf_renderer.py."""
from __future__ import annotations

import torch
import torch.nn.functional as F

IMPORTANCE_FLOOR = 0.01  # added to every interval weight so the pdf is never 0 [ours]


def coarse_depths(n_rays: int, n: int, near: float, far: float, jitter: bool, device=None, batch: int = 1):
    """(B, R, n) stratified depths; bin centres when jitter is False (inference)."""
    i = torch.arange(n, dtype=torch.float32, device=device)
    off = torch.rand(batch, n_rays, n, device=device) if jitter else torch.full((batch, n_rays, n), 0.5, device=device)
    return near + (far - near) * (i + off) / n


def composite(depths: torch.Tensor, sigma_raw: torch.Tensor, feat: torch.Tensor):
    """depths, sigma_raw (..., S) sorted by depth; feat (..., S, C).
    Returns feature image (..., C), alpha (...), interval weights (..., S-1)."""
    delta = depths[..., 1:] - depths[..., :-1]
    sigma = F.softplus((sigma_raw[..., 1:] + sigma_raw[..., :-1]) / 2 - 1)
    fmid = (feat[..., 1:, :] + feat[..., :-1, :]) / 2
    alpha = 1 - torch.exp(-sigma * delta)
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[..., :1]), 1 - alpha + 1e-10], -1), -1)[..., :-1]
    w = alpha * trans
    return (w[..., None] * fmid).sum(-2), w.sum(-1), w


def importance_depths(depths: torch.Tensor, weights: torch.Tensor, n: int, jitter: bool):
    """Inverse-CDF samples from the piecewise-constant pdf over the coarse intervals.
    depths (..., Nc) sorted; weights (..., Nc-1). Returns (..., n) sorted depths."""
    with torch.no_grad():
        w = weights + IMPORTANCE_FLOOR
        pdf = w / w.sum(-1, keepdim=True)
        cdf = torch.cat([torch.zeros_like(pdf[..., :1]), torch.cumsum(pdf, -1)], -1)  # (..., Nc)
        shape = list(depths.shape[:-1]) + [n]
        i = torch.arange(n, dtype=torch.float32, device=depths.device)
        off = torch.rand(shape, device=depths.device) if jitter else torch.full(shape, 0.5, device=depths.device)
        u = ((i + off) / n).contiguous()
        k = torch.searchsorted(cdf.contiguous(), u, right=True) - 1
        k = k.clamp(0, depths.shape[-1] - 2)
        c0 = torch.gather(cdf, -1, k)
        c1 = torch.gather(cdf, -1, k + 1)
        t0 = torch.gather(depths, -1, k)
        t1 = torch.gather(depths, -1, k + 1)
        return t0 + (u - c0) / (c1 - c0) * (t1 - t0)


def merge_samples(d0, s0, f0, d1, s1, f1):
    """Concatenate two sample sets along S and sort by depth (stable: first set wins ties)."""
    d = torch.cat([d0, d1], -1)
    order = torch.sort(d, dim=-1, stable=True).indices
    s = torch.cat([s0, s1], -1)
    f = torch.cat([f0, f1], -2)
    return (torch.gather(d, -1, order), torch.gather(s, -1, order),
            torch.gather(f, -2, order[..., None].expand(*order.shape, f.shape[-1])))
