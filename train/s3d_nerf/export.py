"""Export a model to the engine's file format: safetensors with metadata
format="s3d-nerf", format_version="1", config (JSON), provenance (JSON)."""
from __future__ import annotations

import json
from typing import Dict, Optional, Tuple

import torch

from . import safetensors_io
from .config import ModelConfig
from .model import S3DNeRF

FORMAT = "s3d-nerf"
FORMAT_VERSION = "1"


def export(model: S3DNeRF, path: str, provenance: Dict, dtype: torch.dtype = torch.float16) -> None:
    tensors = {k: v.to(dtype) for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": model.cfg.to_json(),
            "provenance": json.dumps(provenance, sort_keys=True)}
    safetensors_io.save(path, tensors, meta)


def load(path: str, device: Optional[str] = None) -> Tuple[S3DNeRF, Dict]:
    tensors, meta = safetensors_io.load(path)
    if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: not an s3d-nerf v{FORMAT_VERSION} model file")
    model = S3DNeRF(ModelConfig.from_json(meta["config"]))
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.to(device or "cpu").eval(), json.loads(meta["provenance"])
