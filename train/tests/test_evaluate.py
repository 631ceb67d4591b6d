"""Evaluation smoke test (train/evaluate.py). Runs under pytest or plainly:

    /usr/bin/python3 -m pytest -q -s train/tests/test_evaluate.py
    /usr/bin/python3 train/tests/test_evaluate.py

Needs the prepared data (.cache/data/manifest.json, train/prepare_data.py) and a tiny
model export (.cache/runs/tiny-real-ae/model.safetensors, or S3D_EVAL_MODEL); when they
are missing the end-to-end test is skipped (the metric identities still run). A SyncNet
checkpoint is used when one exists (S3D_EVAL_SYNC, .cache/runs/tiny-real-sync2/ or
tiny-real-sync/syncnet.pt); otherwise a randomly initialised one is saved (the score
is then meaningless, but the code path runs).
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.dirname(HERE)
ROOT = os.path.dirname(TRAIN)
sys.path.insert(0, TRAIN)
import evaluate as E  # noqa: E402

torch.set_num_threads(2)
MANIFEST = os.path.join(ROOT, ".cache", "data", "manifest.json")
MODEL = os.environ.get("S3D_EVAL_MODEL", os.path.join(ROOT, ".cache", "runs", "tiny-real-ae", "model.safetensors"))
N_FRAMES = 12


class Skip(Exception):
    pass


def _skip(msg):
    try:
        import pytest
        pytest.skip(msg)
    except ImportError:
        raise Skip(msg)


def _sync_checkpoint(tmp):
    for p in (os.environ.get("S3D_EVAL_SYNC"), os.path.join(ROOT, ".cache/runs/tiny-real-sync2/syncnet.pt"),
              os.path.join(ROOT, ".cache/runs/tiny-real-sync/syncnet.pt")):
        if p and os.path.exists(p):
            return p
    from s3d_nerf.sync_net import SyncNet, default_crop
    torch.manual_seed(0)
    net = SyncNet(80, default_crop(64), width=8, embed=16)
    p = os.path.join(tmp, "syncnet_random.pt")
    torch.save({"model": net.state_dict(), "hparams": net.hparams, "config": "tiny"}, p)
    return p


def test_metric_identities():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 64, 64, generator=g)
    y = (x + 0.1 * torch.randn(3, 3, 64, 64, generator=g)).clamp(0, 1)
    mask = torch.zeros(3, 1, 64, 64)
    mask[:, :, 16:48, 16:48] = 1
    # SSIM(x, x) = 1, full and masked; < 1 for a noisy copy; symmetric
    assert torch.allclose(E.ssim(x, x), torch.ones(3), atol=1e-6)
    assert torch.allclose(E.ssim(x, x, mask), torch.ones(3), atol=1e-6)
    s = E.ssim(x, y)
    assert (s < 0.99).all() and (s > -1).all()
    assert torch.allclose(s, E.ssim(y, x), atol=1e-6)
    # constant images of different level: SSIM = luminance term only
    a, b = torch.full((1, 3, 32, 32), 0.25), torch.full((1, 3, 32, 32), 0.5)
    c1 = 0.01 ** 2
    assert abs(float(E.ssim(a, b)) - (2 * 0.125 + c1) / (0.0625 + 0.25 + c1)) < 1e-6
    # PSNR: identical -> cap (not inf/nan); known MSE -> exact value; masked ignores outside
    assert torch.equal(E.psnr(x, x), torch.full((3,), E.PSNR_CAP))
    z = x.clone()
    z[:, :, :8] = (z[:, :, :8] + 0.5) % 1.0          # changes only rows outside the mask
    assert torch.equal(E.psnr(x, z, mask), torch.full((3,), E.PSNR_CAP))
    assert (E.psnr(x, z) < 40).all()
    d = torch.full((1, 3, 8, 8), 0.5)
    assert abs(float(E.psnr(d, d + 0.1)) - 20.0) < 1e-4
    # landmark distances: 0 for itself; a 3-4-5 shift gives 5 px, NME by the IOD
    lm = np.random.default_rng(0).uniform(50, 200, (4, 68, 2))
    assert np.all(E.landmark_distance(lm, lm) == 0) and np.all(E.landmark_distance(lm, lm, E.MOUTH) == 0)
    assert np.allclose(E.landmark_distance(lm + [3.0, 4.0], lm), 5.0)
    assert np.allclose(E.inter_ocular(lm), np.linalg.norm(lm[:, 36:42].mean(1) - lm[:, 42:48].mean(1), axis=-1))


def test_evaluate_tiny_model_one_clip():
    if not (os.path.exists(MANIFEST) and os.path.exists(MODEL)):
        _skip(f"needs {MANIFEST} and {MODEL}")
    tmp = tempfile.mkdtemp(prefix="s3d_eval_test_")
    clip = json.load(open(MANIFEST))["clips"][0]["name"]
    out_json = os.path.join(tmp, "eval.json")
    t = time.time()
    res = E.main(["--model", MODEL, "--manifest", MANIFEST, "--clip", clip, "--frames", str(N_FRAMES),
                  "--sync-checkpoint", _sync_checkpoint(tmp), "--json", out_json])
    print(f"evaluate: {time.time() - t:.1f} s")
    assert os.path.exists(out_json)
    j = json.load(open(out_json))
    assert j["n_frames"] == N_FRAMES and j["summary"] == res["summary"]
    c = j["clips"][0]
    assert c["targets"][0] == c["source_frame"] + 1 and c["source_frame"] == clip_val_start(clip)
    s = res["summary"]
    assert {"model", "copy source frame", "ground truth"} <= set(s) and len(s) <= 4, set(s)
    for row in [r for r in s if r != "ground truth"]:
        m = s[row]
        for k in E.ROW_KEYS:
            assert math.isfinite(m[k]), (row, k, m[k])
        assert 5 < m["psnr"] < E.PSNR_CAP and 5 < m["psnr_mask"] < E.PSNR_CAP, m
        assert 0 < m["ssim"] < 1 and 0 < m["ssim_mask"] < 1, m
        assert 0 <= m["m_lmd"] < 40 and 0 <= m["f_lmd"] < 40, m
        assert 0 <= m["m_nme"] < 100 and 0 <= m["f_nme"] < 100, m
        assert -1 <= m["sync"] <= 1, m
        assert m["lm_missing"] < N_FRAMES
    g = s["ground truth"]
    assert g["psnr"] == E.PSNR_CAP and g["psnr_mask"] == E.PSNR_CAP
    assert abs(g["ssim"] - 1) < 1e-6 and abs(g["ssim_mask"] - 1) < 1e-6
    assert g["m_lmd"] == 0 and g["f_lmd"] == 0 and g["m_nme"] == 0 and g["f_nme"] == 0
    assert -1 <= g["sync"] <= 1 and -1 <= g["sync_shifted"] <= 1
    # the copy row's first target differs from the source frame -> finite PSNR, and the table prints
    assert "| copy source frame |" in res["table"] and "| model |" in res["table"]
    print(res["table"])


def clip_val_start(name):
    return {e["name"]: e for e in json.load(open(MANIFEST))["clips"]}[name]["splits"]["val"][0]


if __name__ == "__main__":
    t0 = time.time()
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            t = time.time()
            try:
                fn()
                print(f"PASS {name} ({time.time() - t:.1f} s)", flush=True)
            except Skip as e:
                print(f"SKIP {name}: {e}", flush=True)
    print(f"done in {time.time() - t0:.1f} s")
