"""Cameras and rays (DESIGN §2, EG3D convention: cam2world 4x4 in OpenCV axes,
normalised intrinsics, pixel centres at (i+0.5)/res)."""
from __future__ import annotations

import torch


def frontal_pose(radius: float = 2.7) -> torch.Tensor:
    """The camera in front of the head, looking down -z at the origin."""
    return torch.tensor([[1.0, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, radius], [0, 0, 0, 1]])


def source_transform(pose_src: torch.Tensor, radius: float) -> torch.Tensor:
    """A = F * inv(P_src): Eq. 2's Inv(P_src) written so that the frontal camera F maps
    to itself [ours]. Points seen by the source camera land where the frontal camera
    would see them, i.e. in the frame of the (image-aligned) tri-planes."""
    return frontal_pose(radius).to(pose_src) @ torch.linalg.inv(pose_src)


def make_rays(pose_tar: torch.Tensor, pose_src: torch.Tensor, res: int, focal: float, radius: float):
    """Ray origins and unit directions in the source frame, (B, res*res, 3) each,
    pixel index = row*res + col."""
    b = pose_tar.shape[0]
    c = (torch.arange(res, dtype=torch.float32, device=pose_tar.device) + 0.5) / res
    v, u = torch.meshgrid(c, c, indexing="ij")
    d_cam = torch.stack([(u - 0.5) / focal, (v - 0.5) / focal, torch.ones_like(u)], -1).reshape(-1, 3)
    a = torch.stack([source_transform(p, radius) for p in pose_src])         # (B,4,4)
    m = a @ pose_tar                                                          # target cam -> source frame
    dirs = d_cam @ m[:, :3, :3].transpose(1, 2)
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    origins = m[:, None, :3, 3].expand(b, res * res, 3)
    return origins, dirs
