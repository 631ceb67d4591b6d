"""The per-ray NeRF caller (paper Eqs. 2, 4, 5; DESIGN §3.3): rays -> deformation field ->
tri-plane sample -> tri-plane decoder -> volume render, on the coarse samples and then on
the importance samples, merged. C++: cpp/model/nerf_renderer.h (NerfRenderer, fused per
block of rays); CUDA: cuda/nerf_renderer.cu. S3DNeRF.nerf (model.py) calls it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple

import torch

from . import volume_render
from .camera import make_rays
from .config import ModelConfig

# xs (B,N,3) source-frame points -> sigma_raw (B,N), feat (B,N,F), delta (B,N,3)
QueryPoints = Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


@dataclass
class NerfOutput:
    coarse: torch.Tensor  # (B, 3+F+1, r, r): rgb, feature image, alpha
    delta: torch.Tensor   # (B, R, S, 3) deformation of every evaluated point


def render_rays(query_points: QueryPoints, cfg: ModelConfig, pose_src, pose_tar, jitter: bool = False,
                window=None) -> NerfOutput:
    """pose_src, pose_tar (B,4,4). window None: the whole r x r ray grid. window (top (B,),
    left (B,), size): only the size x size block of rays at (top, left) of each frame's
    grid -- patch training."""
    r = cfg.render_size
    b = pose_tar.shape[0]
    o, d = make_rays(pose_tar, pose_src, r, cfg.focal, cfg.cam_radius)
    h = w = r
    if window is not None:
        top, left, h = window
        w = h
        k = torch.arange(h, device=o.device)
        idx = ((top[:, None, None] + k[None, :, None]) * r + left[:, None, None] + k[None, None, :]).reshape(b, -1)
        o = torch.gather(o, 1, idx[..., None].expand(-1, -1, 3))
        d = torch.gather(d, 1, idx[..., None].expand(-1, -1, 3))
    n_rays = h * w

    def run(depths):
        pts = o[:, :, None] + depths[..., None] * d[:, :, None]       # (B,R,S,3)
        s = depths.shape[-1]
        sigma, feat, dx = query_points(pts.reshape(b, -1, 3))
        return sigma.reshape(b, n_rays, s), feat.reshape(b, n_rays, s, -1), dx.reshape(b, n_rays, s, 3)

    t0 = volume_render.coarse_depths(n_rays, cfg.n_coarse, cfg.ray_near, cfg.ray_far, jitter, o.device, b)
    s0, f0, dx0 = run(t0)
    _, _, w0 = volume_render.composite(t0, s0, f0)
    t1 = volume_render.importance_depths(t0, w0, cfg.n_importance, jitter)
    s1, f1, dx1 = run(t1)
    t, s, f = volume_render.merge_samples(t0, s0, f0, t1, s1, f1)
    feat, alpha, _ = volume_render.composite(t, s, f)
    img = torch.cat([feat[..., :3], feat, alpha[..., None]], -1)     # (B,R,36)
    coarse = img.transpose(1, 2).reshape(b, -1, h, w)
    return NerfOutput(coarse, torch.cat([dx0, dx1], 2))
