"""Export a model to the engine's file format: safetensors with metadata
format="s3d-nerf", format_version="1", config (JSON), provenance (JSON)."""
from __future__ import annotations

import json
from typing import Dict, Optional, Tuple

import torch

from . import safetensors_io
from .config import ModelConfig
from .model import S3DNeRF
from .super_resolution import GATE_GAIN, GATE_INIT_LOGIT

FORMAT = "s3d-nerf"
FORMAT_VERSION = "1"


def export(model: S3DNeRF, path: str, provenance: Dict, dtype: torch.dtype = torch.float16) -> None:
    tensors = {k: v.to(dtype) for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": model.cfg.to_json(),
            "provenance": json.dumps(provenance, sort_keys=True)}
    safetensors_io.save(path, tensors, meta)


# Config keys that change what the model computes but none of its tensors.
WEIGHTLESS_KEYS = ("sr_hole", "sr_hole_feather", "sr_paste_source")


def upgrade_state(tensors: Dict[str, torch.Tensor], old: ModelConfig, new: ModelConfig) -> Dict[str, torch.Tensor]:
    """Weights of a model with config `old` as the start of one with config `new`, where
    the two differ only by sr_source_gate and by the keys that hold no weights (the mouth
    hole: sr_hole, sr_hole_feather; sr_paste_source). Turning the gate on gives the SR's
    last conv the gate row (weight 0, bias GATE_INIT_LOGIT / GATE_GAIN: g = 0.95, mostly
    the source, at first); turning it off drops that row. Any other difference raises
    ValueError."""
    a, b = json.loads(old.to_json()), json.loads(new.to_json())
    for k in ("sr_source_gate",) + WEIGHTLESS_KEYS:
        a.pop(k), b.pop(k)
    if a != b:
        raise ValueError("the configs differ by more than sr_source_gate and the mouth hole")
    out = {k: v.float() for k, v in tensors.items()}
    w, bias = out["sr.out_rgb.weight"], out["sr.out_rgb.bias"]            # (3[+1],o,1,1), (3[+1],)
    if new.sr_source_gate and not old.sr_source_gate:
        out["sr.out_rgb.weight"] = torch.cat([w, torch.zeros_like(w[:1])])
        out["sr.out_rgb.bias"] = torch.cat([bias, torch.full_like(bias[:1], GATE_INIT_LOGIT / GATE_GAIN)])
    elif old.sr_source_gate and not new.sr_source_gate:
        out["sr.out_rgb.weight"], out["sr.out_rgb.bias"] = w[:3], bias[:3]
    return out


def load(path: str, device: Optional[str] = None) -> Tuple[S3DNeRF, Dict]:
    tensors, meta = safetensors_io.load(path)
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: not an s3d-nerf v{FORMAT_VERSION} model file")
    model = S3DNeRF(ModelConfig.from_json(meta["config"]))
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.to(device or "cpu").eval(), json.loads(meta["provenance"])
