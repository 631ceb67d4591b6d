"""The Python safetensors reader/writer (the `safetensors` wheel is not installable here).

The one codec of the Python side: model export, the golden fixtures
(train/make_fixtures.py, train/fixtures_audio.py) and the C++ reader's cross-check
(tests/native/safetensors_fixture.py) all go through it. Tensors may be given as torch
tensors or numpy arrays (F32, F16; BF16 only as torch); they are read back as torch
tensors (`.numpy()` for numpy callers).

Layout: u64 little-endian header length N, N bytes of JSON header
{"__metadata__": {str: str}, name: {dtype, shape, data_offsets: [begin, end]}, ...}
padded with spaces to a multiple of 8, then the raw little-endian tensor data.
"""
from __future__ import annotations

import json
import struct
from typing import Dict, Mapping, Tuple

import numpy as np
import torch

_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
_TORCH = {v: k for k, v in _DTYPES.items()}


def _raw(t) -> Tuple[str, list, bytes]:
    if not isinstance(t, torch.Tensor):
        t = torch.from_numpy(np.ascontiguousarray(t))
    t = t.detach().contiguous().cpu()
    raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
    return _DTYPES[t.dtype], list(t.shape), raw


def encode(tensors: Mapping[str, object], metadata: Mapping[str, str], *, sort_names: bool = True) -> bytes:
    """The file's bytes. Names are written sorted, or in the mapping's order with
    sort_names=False (readers must not depend on the order)."""
    header: dict = {"__metadata__": dict(metadata)}
    blobs, offset = [], 0
    for name in (sorted(tensors) if sort_names else list(tensors)):
        dtype, shape, raw = _raw(tensors[name])
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()  # ensure_ascii: non-ASCII as \uXXXX
    h += b" " * (-len(h) % 8)  # align the data section
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def decode(data: bytes) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in header.items():
        b0, b1 = e["data_offsets"]
        dt = _TORCH[e["dtype"]]
        if b0 == b1:  # torch.frombuffer refuses an empty buffer
            out[name] = torch.empty(e["shape"], dtype=dt)
            continue
        raw = bytearray(data[base + b0:base + b1])
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def save(path: str, tensors: Mapping[str, object], metadata: Mapping[str, str], *, sort_names: bool = True) -> None:
    data = encode(tensors, metadata, sort_names=sort_names)
    with open(path, "wb") as f:
        f.write(data)


def load(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    with open(path, "rb") as f:
        return decode(f.read())
