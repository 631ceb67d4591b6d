"""Multi-process helpers: torch.distributed only when WORLD_SIZE > 1 (torchrun).

Gradients are averaged with one flat all-reduce per optimiser step (no DDP wrapper,
so R1's double backward, gradient checkpointing and the unused audio/deform
parameters of the autoencoder stage need no special cases).
"""
from __future__ import annotations

import os
from typing import List

import torch
import torch.distributed as dist


class Dist:
    """Rank, world size and device of this process, and the collectives the loops use."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if self.world > 1:
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            self.rank = dist.get_rank()

    @property
    def main(self) -> bool:
        return self.rank == 0

    def device(self, want: str) -> torch.device:
        if want == "auto":
            want = "cuda" if torch.cuda.is_available() else "cpu"
        if want == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return torch.device(want)

    def broadcast_module(self, m: torch.nn.Module):
        if self.world > 1:
            for t in m.state_dict().values():
                dist.broadcast(t, 0)

    def average_grads(self, params: List[torch.nn.Parameter]):
        if self.world <= 1:
            return
        params = [p for p in params if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        flat /= self.world
        i = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[i:i + n].view_as(p))
            i += n

    def mean_scalar(self, x: float) -> float:
        if self.world <= 1:
            return x
        t = torch.tensor([x], dtype=torch.float64, device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(t)
        return float(t) / self.world

    def close(self):
        if self.world > 1:
            dist.destroy_process_group()
