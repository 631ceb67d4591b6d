"""Patch training (issue 10): per target frame, one square block of the coarse ray grid
plus the SR on the matching image crop, so a step costs (P+2m)^2 rays and a
4(P+2m)-pixel SR instead of r^2 rays and the whole image. The m-pixel margin (in
coarse pixels) covers the SR's receptive field (two 3x3 convs at image/2, two at
image, two bilinear x2 ups: about 2.25 coarse pixels), so the interior P x P block
(4P x 4P pixels) is what the full-frame render would give; only it is returned."""
from __future__ import annotations

import torch


def choose_windows(n: int, r: int, window: int, lip_box, image_size: int, mouth_prob: float,
                   generator: torch.Generator | None = None):
    """Top-left corners (n,) long of window x window blocks of the r x r ray grid.
    With probability mouth_prob a block is centred on the lip box (jittered by a
    quarter window), otherwise it is uniform. lip_box (n,4) x0,y0,x1,y1 in image
    pixels, or None (uniform only)."""
    hi = r - window
    if hi < 0:
        raise ValueError(f"patch window {window} is larger than the {r}x{r} ray grid")
    top = torch.randint(0, hi + 1, (n,), generator=generator)
    left = torch.randint(0, hi + 1, (n,), generator=generator)
    if lip_box is not None and mouth_prob > 0:
        s = r / image_size
        cy = (lip_box[:, 1] + lip_box[:, 3]) * 0.5 * s
        cx = (lip_box[:, 0] + lip_box[:, 2]) * 0.5 * s
        j = window / 4
        jy = (torch.rand(n, generator=generator) * 2 - 1) * j
        jx = (torch.rand(n, generator=generator) * 2 - 1) * j
        my = (cy + jy - window / 2).round().long().clamp(0, hi)
        mx = (cx + jx - window / 2).round().long().clamp(0, hi)
        use = torch.rand(n, generator=generator) < mouth_prob
        top = torch.where(use, my, top)
        left = torch.where(use, mx, left)
    return top, left


def crop(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int, per_row: int = 1) -> torch.Tensor:
    """x (N/per_row,C,H,W), corners (N,) -> (N,C,size,size); crop i is taken from row
    i // per_row (several frames' windows from one source's features)."""
    return torch.stack([x[i // per_row, :, int(t):int(t) + size, int(l_):int(l_) + size]
                        for i, (t, l_) in enumerate(zip(top.tolist(), left.tolist()))])


def render_patches(model, ident, mel, pose_tar, top, left, window: int, margin: int, jitter: bool = True,
                   frames_per_source: int = 1):
    """The frame phase (audio net, MHCA, NeRF, SR) on one window per frame.
    ident: an Identity whose query and pose_src have one row per frame and whose planes
    and SR source features have one row per frames_per_source frames; top/left (N,)
    window corners in the ray grid. Returns the interiors: coarse (N,36,P,P),
    rgb (N,3,4P,4P), delta."""
    tokens, code = model.audio_net(mel)
    cm = model.cross_attention(ident.query, tokens)
    out = model.nerf(ident, cm, code, pose_tar, jitter, window=(top, left, window))
    up = model.cfg.image_size // model.cfg.render_size                       # 4
    src_half = crop(ident.src_half, top * (up // 2), left * (up // 2), window * (up // 2), frames_per_source)
    src_full = crop(ident.src_full, top * up, left * up, window * up, frames_per_source)
    src_image = crop(ident.src_image, top * up, left * up, window * up, frames_per_source)
    src_keep = crop(ident.src_keep, top * up, left * up, window * up, frames_per_source)
    _, rgb = model.sr(out.coarse, src_full, src_half, src_image, src_keep)
    m, p = margin, window - 2 * margin
    return out.coarse[..., m:m + p, m:m + p], rgb[..., up * m:up * (m + p), up * m:up * (m + p)], out.delta
