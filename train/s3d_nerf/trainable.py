"""TrainableS3DNeRF: the S3DNeRF model plus the switches training needs (DESIGN §3.6).

Same parameters and state_dict as S3DNeRF, so a trained instance exports as is
(s3d_nerf/export.py). Adds the autoencoder stage's deformation bypass, gradient
checkpointing of the NeRF point queries, and the batched training forwards: whole
frames (train_forward) or one ray-grid window per target frame (train_forward_patches).
"""
from __future__ import annotations

import dataclasses

import torch
from torch.utils.checkpoint import checkpoint

from .model import Identity, S3DNeRF
from .patches import render_patches
from .triplane import sample_triplanes


class TrainableS3DNeRF(S3DNeRF):
    """S3DNeRF plus training switches; identical parameters/state_dict (export works as is).
    use_deform False: the deformation field (and so the audio path) is bypassed, dx = 0.
    checkpoint_points True: each NeRF point query is recomputed in backward instead of
    storing its per-point activations (the bulk of training memory)."""

    use_deform: bool = True
    checkpoint_points: bool = False

    def query_points(self, ident: Identity, cm, code, xs):
        def fn(x):
            dx = self.deform(x, cm, code) if self.use_deform else torch.zeros_like(x)
            p, nb = x + dx, ident.planes[0].shape[0]
            if p.shape[0] != nb:  # T frames share their source's planes: (B*T,N,3) -> (B,T*N,3)
                f = sample_triplanes(ident.planes, p.reshape(nb, -1, 3), self.cfg.plane_channels, self.cfg.plane_scale)
                f = f.reshape(p.shape[0], p.shape[1], -1)
            else:
                f = sample_triplanes(ident.planes, p, self.cfg.plane_channels, self.cfg.plane_scale)
            sigma, feat = self.decoder(f)
            return sigma, feat, dx

        if self.checkpoint_points and torch.is_grad_enabled():
            return checkpoint(fn, xs, use_reentrant=False)
        return fn(xs)

    def train_forward(self, source, mask, pose_src, mel, pose_tar, n_frames: int, jitter: bool = True):
        """B sources, B*n_frames targets (sample-major) -> rgb_mid, rgb, coarse, delta."""
        ident = self.encode_identity(source, mask, pose_src)
        rep = lambda t: t.repeat_interleave(n_frames, 0)  # noqa: E731
        ident = ident.map(rep)
        rgb_mid, rgb, out = self.render(ident, mel, pose_tar, jitter)
        return rgb_mid, rgb, out.coarse, out.delta

    def train_forward_patches(self, source, mask, pose_src, mel, pose_tar, n_frames: int, top, left,
                              window: int, margin: int, jitter: bool = True):
        """As train_forward, on one ray-grid window per target frame (s3d_nerf/patches.py):
        coarse (N,36,P,P), rgb (N,3,4P,4P) for the window interiors, delta."""
        ident = self.encode_identity(source, mask, pose_src)
        # per frame: query and pose; planes and SR source features stay per sample (not
        # copied T times: query_points and render_patches index them by frame // T)
        rep = lambda t: t.repeat_interleave(n_frames, 0)  # noqa: E731
        ident = dataclasses.replace(ident, query=rep(ident.query), pose_src=rep(ident.pose_src))
        return render_patches(self, ident, mel, pose_tar, top, left, window, margin, jitter, n_frames)
