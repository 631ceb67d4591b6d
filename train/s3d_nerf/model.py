"""The whole S3D-NeRF generator (DESIGN §3), split into the two phases of the API:
encode_identity (once per photo) and render (per frame)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch
import torch.nn as nn

from .audio_net import AudioNet
from .config import ModelConfig
from .cross_attention import CrossModalAttention
from .deformation_field import DeformationField
from .encoder import HierarchicalEncoder
from .nerf_renderer import NerfOutput, render_rays
from .slot_attention import Aggregator
from .super_resolution import SourceBranch, SuperResolution, hide_mouth, mouth_hole
from .triplane import sample_triplanes
from .triplane_decoder import TriplaneDecoder


@dataclass
class Identity:
    planes: List[torch.Tensor]  # F^0..F^3, (B, 3*C, h, w)
    query: torch.Tensor         # MHCA query projection of F_agg, (B, S, D)
    src_full: torch.Tensor      # SR source features at image size
    src_half: torch.Tensor      # ... and at image/2
    pose_src: torch.Tensor      # (B, 4, 4)
    src_image: torch.Tensor     # the source as the SR branch sees it (hide_mouth), (B, 3, H, W)
    src_keep: torch.Tensor      # 1 - the mouth hole, (B, 1, H, W); where the SR pastes the source (sr_paste_source)

    def map(self, fn) -> "Identity":
        """fn applied to every tensor (e.g. one row per target frame): callers need not
        list the fields, so a new one cannot be left out."""
        return Identity([fn(p) for p in self.planes], fn(self.query), fn(self.src_full), fn(self.src_half),
                        fn(self.pose_src), fn(self.src_image), fn(self.src_keep))


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
        hole = mouth_hole(mask, self.cfg.sr_hole, self.cfg.sr_hole_feather)     # (B,1,H,W)
        seen = hide_mouth(image, hole)
        full, half = self.sr_source(seen)
        return Identity(planes, self.cross_attention.query(f_agg), full, half, pose_src, seen, 1 - hole)

    # ---- frame phase ----------------------------------------------------------
    def query_points(self, ident: Identity, cm, code, xs):
        """xs (B,N,3) source-frame points -> sigma_raw (B,N), feat (B,N,F), delta (B,N,3)."""
        dx = self.deform(xs, cm, code)
        f = sample_triplanes(ident.planes, xs + dx, self.cfg.plane_channels, self.cfg.plane_scale)
        sigma, feat = self.decoder(f)
        return sigma, feat, dx

    def nerf(self, ident: Identity, cm, code, pose_tar, jitter: bool = False, window=None) -> NerfOutput:
        """The NeRF of one frame (nerf_renderer.render_rays; fixture stage nerf_renderer) on
        this model's deformation field, tri-planes and decoder. window: see render_rays."""
        return render_rays(lambda xs: self.query_points(ident, cm, code, xs), self.cfg, ident.pose_src, pose_tar,
                           jitter, window)

    def render(self, ident: Identity, mel, pose_tar, jitter: bool = False):
        """mel (B, n_mels, window) -> (rgb at image/2, rgb at image, NerfOutput)."""
        tokens, code = self.audio_net(mel)
        cm = self.cross_attention(ident.query, tokens)
        out = self.nerf(ident, cm, code, pose_tar, jitter)
        rgb_mid, rgb = self.sr(out.coarse, ident.src_full, ident.src_half, ident.src_image, ident.src_keep)
        return rgb_mid, rgb, out

    def forward(self, image, mask, pose_src, mel, pose_tar, jitter: bool = True):
        return self.render(self.encode_identity(image, mask, pose_src), mel, pose_tar, jitter)
