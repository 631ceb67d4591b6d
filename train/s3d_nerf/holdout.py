"""Single-shot validation during training (issue 10): people the model never saw.

HeldOutSet picks, from every clip whose name contains one of the held-out
substrings, the clip's first frame as the source and `frames` evenly spaced later
frames as targets (with their own speech and pose), renders whole frames
deterministically, and reports PSNR of the fine image (whole crop and lip box),
PSNR of the coarse NeRF image inside the inner-face mask, and the same PSNRs for
the trivial baseline of copying the source frame."""
from __future__ import annotations

import math
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

from . import audio as AU
from .dataset import TalkingClipDataset


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    if mask is None:
        mse = float(((a - b) ** 2).mean())
    else:
        m = mask.expand_as(a)
        mse = float((((a - b) ** 2) * m).sum() / m.sum().clamp_min(1))
    return 10 * math.log10(1.0 / max(mse, 1e-10))


class HeldOutSet:
    def __init__(self, manifest: str, cfg, holdout: List[str], frames: int = 6):
        ds = TalkingClipDataset(manifest, cfg, "train")
        self.cfg, self.ds = cfg, ds
        self.items = []  # (clip, source t, target t)
        for c in ds.clips:
            if not any(h in c.name for h in holdout):
                continue
            ts = np.linspace(5, c.n - 1, frames).round().astype(int)
            self.items += [(c, 0, int(t)) for t in ts]
        if not self.items:
            raise SystemExit(f"--holdout {','.join(holdout)}: no clip in {manifest} matches")

    @torch.no_grad()
    def evaluate(self, model) -> Dict[str, float]:
        """Metrics averaged over the items; self.last_grid = rows of source | target |
        coarse (nearest-upsampled) | fine, (3, n*S, 4*S)."""
        dev = next(model.parameters()).device
        S, r = self.cfg.image_size, self.cfg.render_size
        acc: Dict[str, list] = {k: [] for k in ("psnr", "psnr_mouth", "psnr_coarse", "copy_psnr", "copy_psnr_mouth")}
        tiles = []
        for c, ts, tt in self.items:
            src = self.ds._img(c, ts)[None].to(dev)
            tgt = self.ds._img(c, tt)[None].to(dev)
            ident = model.encode_identity(src, self.ds._mask(c, ts)[None].to(dev), c.pose[ts][None].to(dev))
            mel = AU.deform_window(c.mel, tt, self.ds.acfg)[None].to(dev)
            _, rgb, out = model.render(ident, mel, c.pose[tt][None].to(dev), False)
            rgb = rgb.clamp(0, 1)
            box = torch.zeros(1, 1, S, S, device=dev)
            x0, y0, x1, y1 = [int(round(float(v) * S / 256)) for v in c.lip_box[tt]]
            box[..., max(0, y0):y1, max(0, x0):x1] = 1
            m_small = F.interpolate(self.ds._mask(c, tt)[None].to(dev), size=(r, r), mode="area")
            acc["psnr"].append(psnr(rgb, tgt))
            acc["psnr_mouth"].append(psnr(rgb, tgt, box))
            acc["psnr_coarse"].append(psnr(out.coarse[:, :3].clamp(0, 1), F.interpolate(tgt, size=(r, r), mode="area"), m_small))
            acc["copy_psnr"].append(psnr(src, tgt))
            acc["copy_psnr_mouth"].append(psnr(src, tgt, box))
            coarse_up = F.interpolate(out.coarse[:, :3].clamp(0, 1), size=(S, S), mode="nearest")
            tiles.append(torch.cat([src[0], tgt[0], coarse_up[0], rgb[0]], 2))
        res = {k: float(np.mean(v)) for k, v in acc.items()}
        res["n"] = len(self.items)
        self.last_grid = torch.cat(tiles, 1) if tiles else None
        return res
