"""The whole S3D-NeRF generator (DESIGN §3), split into the two phases of the API:
encode_identity (once per photo) and render (per frame)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch
import torch.nn as nn

from . import renderer
from .audio_net import AudioNet
from .camera import make_rays
from .config import ModelConfig
from .cross_attention import CrossModalAttention
from .decoder import TriplaneDecoder
from .deform import DeformationField
from .encoder import HierarchicalEncoder, sample_triplanes
from .slot_attention import Aggregator
from .super_resolution import SourceBranch, SuperResolution, hide_mouth


@dataclass
class Identity:
    planes: List[torch.Tensor]  # F^0..F^3, (B, 3*C, h, w)
    query: torch.Tensor         # MHCA query projection of F_agg, (B, S, D)
    src_full: torch.Tensor      # SR source features at image size
    src_half: torch.Tensor      # ... and at image/2
    pose_src: torch.Tensor      # (B, 4, 4)


@dataclass
class NerfOutput:
    coarse: torch.Tensor  # (B, 3+F+1, r, r): rgb, feature image, alpha
    delta: torch.Tensor   # (B, R, S, 3) deformation of every evaluated point


class S3DNeRF(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = HierarchicalEncoder(cfg)
        self.aggregator = Aggregator(cfg)
        self.audio_net = AudioNet(cfg)
        self.cross_attention = CrossModalAttention(cfg)
        self.deform = DeformationField(cfg)
        self.decoder = TriplaneDecoder(cfg)
        self.sr_source = SourceBranch(cfg)
        self.sr = SuperResolution(cfg)

    # ---- identity phase -------------------------------------------------------
    def encode_identity(self, image, mask, pose_src) -> Identity:
        """image (B,3,H,W) in [0,1]; mask (B,1,H,W); pose_src (B,4,4)."""
        planes = self.encoder(image, mask)
        f_agg = self.aggregator(planes)
        full, half = self.sr_source(hide_mouth(image, mask, self.cfg.sr_hide_below))
        return Identity(planes, self.cross_attention.query(f_agg), full, half, pose_src)

    # ---- frame phase ----------------------------------------------------------
    def query_points(self, ident: Identity, cm, code, xs):
        """xs (B,N,3) source-frame points -> sigma_raw (B,N), feat (B,N,F), delta (B,N,3)."""
        dx = self.deform(xs, cm, code)
        f = sample_triplanes(ident.planes, xs + dx, self.cfg.plane_channels, self.cfg.plane_scale)
        sigma, feat = self.decoder(f)
        return sigma, feat, dx

    def nerf(self, ident: Identity, cm, code, pose_tar, jitter: bool = False, window=None) -> NerfOutput:
        """window None: the whole r x r ray grid. window (top (B,), left (B,), size): only the
        size x size block of rays at (top, left) of each frame's grid -- patch training."""
        cfg = self.cfg
        r = cfg.render_size
        b = pose_tar.shape[0]
        o, d = make_rays(pose_tar, ident.pose_src, r, cfg.focal, cfg.cam_radius)
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
            sigma, feat, dx = self.query_points(ident, cm, code, pts.reshape(b, -1, 3))
            return sigma.reshape(b, n_rays, s), feat.reshape(b, n_rays, s, -1), dx.reshape(b, n_rays, s, 3)

        t0 = renderer.coarse_depths(n_rays, cfg.n_coarse, cfg.ray_near, cfg.ray_far, jitter, o.device, b)
        s0, f0, dx0 = run(t0)
        _, _, w0 = renderer.composite(t0, s0, f0)
        t1 = renderer.importance_depths(t0, w0, cfg.n_importance, jitter)
        s1, f1, dx1 = run(t1)
        t, s, f = renderer.merge_samples(t0, s0, f0, t1, s1, f1)
        feat, alpha, _ = renderer.composite(t, s, f)
        img = torch.cat([feat[..., :3], feat, alpha[..., None]], -1)     # (B,R,36)
        coarse = img.transpose(1, 2).reshape(b, -1, h, w)
        return NerfOutput(coarse, torch.cat([dx0, dx1], 2))

    def render(self, ident: Identity, mel, pose_tar, jitter: bool = False):
        """mel (B, n_mels, window) -> (rgb at image/2, rgb at image, NerfOutput)."""
        tokens, code = self.audio_net(mel)
        cm = self.cross_attention(ident.query, tokens)
        out = self.nerf(ident, cm, code, pose_tar, jitter)
        rgb_mid, rgb = self.sr(out.coarse, ident.src_full, ident.src_half)
        return rgb_mid, rgb, out

    def forward(self, image, mask, pose_src, mel, pose_tar, jitter: bool = True):
        return self.render(self.encode_identity(image, mask, pose_src), mel, pose_tar, jitter)
