"""Writes tests/fixtures/audio.safetensors: golden data for the audio front end.

Usage: /usr/bin/python3 train/fixtures_audio.py [--check]
  --check  regenerate in memory and exit 1 if a committed tensor differs by more than 1e-5
           relative L2 (an absolute bound failed across BLAS builds: netlib vs OpenBLAS
           moved log-mel values by ~4e-6 absolute, ~1e-7 relative).

For each case <c> (tensors in PyTorch layout, F32):
  <c>/input      (n,)            mono samples at the case's rate
  <c>/resampled  (n16k,)         resample_to(input, rate, 16000)
  <c>/logmel     (n_mels, T)     log_mel(resampled)
  <c>/window_<t> (n_mels, 32)    deform_window(logmel, t) for t in first/middle/last frame
Metadata "cases": JSON list of {name, sample_rate, samples, samples16k, frame_count,
mel_frames, windows, tol_resample, tol_logmel}; "audio": the front-end config as JSON.
"""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3d_nerf import audio as A, safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "audio.safetensors")
SEED = 20240611


def _signal(rate: int, n: int, gen: torch.Generator) -> torch.Tensor:
    # Chirp + two tones + white noise: energy in every mel band, so no bin sits
    # near float32 FFT round-off (log amplifies relative error there).
    t = np.arange(n, dtype=np.float64) / rate
    dur = n / rate
    f0, f1 = 80.0, 0.45 * rate
    phase = 2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * dur))
    s = 0.4 * np.sin(phase) + 0.2 * np.sin(2 * math.pi * 220.0 * t) + 0.1 * np.sin(2 * math.pi * 3100.0 * t)
    noise = torch.randn(n, generator=gen, dtype=torch.float64).numpy() * 0.05
    env = 0.6 + 0.4 * np.sin(2 * math.pi * 3.0 * t)  # loudness variation
    return torch.from_numpy(((s + noise) * env).astype(np.float32))


# Parity tolerance (relative L2) for log-mel and windows. 8 kHz input has no
# energy above 4 kHz after upsampling, so the top mel bands hold float32
# round-off (near log_floor) and the float32 reference itself is ~8e-6 away
# from a float64 evaluation there; that case gets FIXTURES.md's 1e-4.
TOL = 1e-5
CASES = [  # (name, rate, samples, log-mel tolerance)
    ("sr16000", 16000, 8000, TOL),
    ("sr22050", 22050, 11025, TOL),
    ("sr44100", 44100, 22050, TOL),
    ("sr48000", 48000, 24000, TOL),
    ("sr8000", 8000, 4000, 1e-4),
    ("short16000", 16000, 200, TOL),
]


def build() -> tuple[dict, dict]:
    gen = torch.Generator().manual_seed(SEED)
    cfg = A.DEFAULT
    tensors: dict[str, np.ndarray] = {}
    meta_cases = []
    for name, rate, n, tol in CASES:
        x = _signal(rate, n, gen)
        y = A.resample_to(x, rate, 16000)
        lm = A.log_mel(y, cfg)
        fc = A.frame_count(y.numel(), cfg)
        ts = sorted({0, fc // 2, fc - 1})
        tensors[f"{name}/input"] = x.numpy()
        tensors[f"{name}/resampled"] = y.numpy()
        tensors[f"{name}/logmel"] = lm.numpy()
        for t in ts:
            tensors[f"{name}/window_{t}"] = A.deform_window(lm, t, cfg).numpy()
        meta_cases.append({"name": name, "sample_rate": rate, "samples": n, "samples16k": int(y.numel()),
                           "frame_count": fc, "mel_frames": int(lm.shape[1]), "windows": ts,
                           "tol_resample": TOL, "tol_logmel": tol})
    meta = {"cases": json.dumps(meta_cases), "audio": json.dumps(vars(cfg)),
            "generator": "train/fixtures_audio.py"}
    return tensors, meta


CHECK_TOLERANCE = 1e-5  # --check, relative L2 per tensor


def main() -> int:
    tensors, meta = build()
    if "--check" in sys.argv[1:]:
        old, old_meta = safetensors_io.load(OUT)
        old = {k: v.numpy() for k, v in old.items()}
        bad = []
        if set(old) != set(tensors):
            bad.append(f"tensor names differ: {sorted(set(old) ^ set(tensors))}")
        if old_meta.get("cases") != meta["cases"]:
            bad.append("metadata 'cases' differs")
        for k in sorted(set(old) & set(tensors)):
            a, b = old[k], tensors[k]
            if a.shape != b.shape:
                bad.append(f"{k}: shape {a.shape} vs {b.shape}")
            elif a.size:
                a64, b64 = a.astype(np.float64), b.astype(np.float64)
                rel = float(np.linalg.norm(a64 - b64) / max(np.linalg.norm(a64), 1e-30))
                if rel > CHECK_TOLERANCE:
                    bad.append(f"{k}: relative L2 diff {rel:.3g} (max abs {float(np.max(np.abs(a64 - b64))):.3g})")
        for m in bad:
            print("MISMATCH", m)
        print("fixtures_audio --check:", "FAIL" if bad else "OK")
        return 1 if bad else 0
    data = safetensors_io.encode(tensors, meta)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        f.write(data)
    print(f"wrote {OUT} ({len(data)} bytes, {len(tensors)} tensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
