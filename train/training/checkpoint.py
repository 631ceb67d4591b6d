"""Generator checkpoints: writing them, resuming from one, starting from a trained
export (--init-from), the per-rank RNG state they carry, and the stop signal that
asks for a last one.

A checkpoint (OUT/ckpt_NNNNNNN.pt, copied to OUT/latest.pt) holds model, disc,
opt_g, opt_d, step, start_step, rng (one state per rank), init_provenance, config,
args and wall_s. Files are written to a .tmp name and renamed, so a crash never
leaves a torn checkpoint.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
from typing import Dict, Optional

import torch

from s3d_nerf import export as export_mod
from s3d_nerf.config import ModelConfig


def rng_state(device: torch.device) -> Dict:
    """Torch, Python and (on CUDA) device RNG state of this process."""
    s = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        s["cuda"] = torch.cuda.get_rng_state(device)
    return s


def set_rng_state(s: Dict, device: torch.device) -> None:
    """Restores what rng_state returned."""
    torch.set_rng_state(s["torch"])
    random.setstate(s["python"])
    if device.type == "cuda" and "cuda" in s:
        torch.cuda.set_rng_state(s["cuda"], device)


class StopRequest:
    """SIGTERM / SIGINT end training after the current step with a checkpoint (and the
    usual export), so stopping a background run loses no work."""

    def __init__(self):
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.requested = True


def resume_path(resume: Optional[str], out: str) -> Optional[str]:
    """--resume as a path: 'auto' is OUT/latest.pt when it exists, else None."""
    if resume == "auto":
        resume = os.path.join(out, "latest.pt")
        resume = resume if os.path.exists(resume) else None
    return resume


def load_checkpoint(path: str, device, G, D, opt_g, opt_d, d_size: int, main: bool) -> Dict:
    """Loads G, D and both optimisers from a checkpoint and returns it. A discriminator
    built for another crop size (e.g. a run that had --adv 0, whole-frame D) is kept
    fresh instead."""
    ck = torch.load(path, map_location=device)
    G.load_state_dict(ck["model"])
    opt_g.load_state_dict(ck["opt_g"])
    try:
        D.load_state_dict(ck["disc"])
        opt_d.load_state_dict(ck["opt_d"])
    except RuntimeError:
        if main:
            print(f"the checkpoint's discriminator does not fit a {d_size}px D: starting a fresh one", flush=True)
    return ck


def load_export(path: str, G, cfg, config_name: str) -> Dict:
    """--init-from: a trained export's weights into G (fp16 -> fp32, upgraded to cfg's
    layout); returns its provenance. Only the weights: the step count and wall time
    carry on from the provenance, and Adam starts fresh (the optimiser state is not
    committed) and is re-warmed by --warmup."""
    tensors, meta = export_mod.safetensors_io.load(path)
    try:
        G.load_state_dict(export_mod.upgrade_state(tensors, ModelConfig.from_json(meta["config"]), cfg))
    except ValueError as e:
        raise SystemExit(f"--init-from {path}: its config does not fit --config {config_name}: {e}")
    prov = json.loads(meta.get("provenance", "{}"))
    if not prov.get("trained"):
        raise SystemExit(f"--init-from {path}: not a trained export (provenance.trained is not true)")
    return prov


def save_checkpoint(out: str, step: int, state: Dict, keep: int) -> None:
    """Writes OUT/ckpt_<step>.pt and OUT/latest.pt; keeps the newest `keep` numbered ones."""
    p = os.path.join(out, f"ckpt_{step:07d}.pt")
    torch.save(state, p + ".tmp")
    os.replace(p + ".tmp", p)
    shutil.copyfile(p, os.path.join(out, "latest.pt.tmp"))
    os.replace(os.path.join(out, "latest.pt.tmp"), os.path.join(out, "latest.pt"))
    for old in sorted(f for f in os.listdir(out) if f.startswith("ckpt_"))[:-keep]:
        os.remove(os.path.join(out, old))
