"""Multi-scale tri-plane sampling (paper Eq. 2; DESIGN §3.1): the encoder's pyramid
F^0..F^3 read as XY, XZ, YZ planes and sampled at 3-D points. Also the 2-D bilinear
sample the deformation field uses for F_cm. C++: cpp/model/triplane.h."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def plane_coords(p: torch.Tensor, scale):
    """Grid coordinates (B,N,2) for the XY, XZ, YZ planes of points p (B,N,3) in the
    source frame: q = p * scale (ModelConfig.plane_scale), planes span q in [-1, 1]^3."""
    q = p * torch.tensor(scale, dtype=p.dtype, device=p.device)
    return [q[..., [0, 1]], q[..., [0, 2]], q[..., [1, 2]]]


def sample_map(m: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear sample of m (B,C,H,W) at uv (B,N,2) in [-1,1] -> (B,N,C);
    align_corners=False, zeros outside."""
    out = F.grid_sample(m, uv.unsqueeze(1), mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[:, :, 0, :].transpose(1, 2)


def sample_triplanes(feats, points: torch.Tensor, plane_channels: int, scale) -> torch.Tensor:
    """Per point: mean over the 3 planes of each level, levels concatenated -> (B,N,4*C).
    feats: F^0..F^3, (B, 3*C, h, w) each; points (B,N,3); scale: ModelConfig.plane_scale. The 3 planes of a level are
    sampled in one grid_sample call (planes folded into the batch: a free view), which
    also gives backward one gradient buffer per level instead of three."""
    b, n, _ = points.shape
    uv = torch.stack(plane_coords(points, scale), 1).reshape(b * 3, 1, n, 2)        # (B*3,1,N,2)
    out = []
    for f in feats:
        h, w = f.shape[-2:]
        s = F.grid_sample(f.reshape(b * 3, plane_channels, h, w), uv, mode="bilinear", padding_mode="zeros",
                          align_corners=False)                                  # (B*3,C,1,N)
        out.append(s.reshape(b, 3, plane_channels, n).mean(1))                  # (B,C,N)
    return torch.cat(out, 1).transpose(1, 2)
