"""Patch training (train/s3d_nerf/patches.py) against whole-frame rendering, tiny config.

    /usr/bin/python3 -m pytest -q train/tests/test_patches.py

(a) a window's interior equals the same pixels of the whole-frame render (NeRF and SR),
    and a margin too small for the SR's receptive field does not (so (a) can fail)
(b) frames sharing their source's planes and SR features (no T-fold copies) give the
    same loss and gradients as the copied-per-frame path
(c) the trainer runs patch steps end to end on synthetic clips, init-from resumes the
    step count from an export, and the export names the held-out identities
"""
from __future__ import annotations

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.dirname(HERE)
sys.path.insert(0, TRAIN)
import train as trainer  # noqa: E402
from s3d_nerf.camera import frontal_pose  # noqa: E402
from s3d_nerf.config import tiny  # noqa: E402
from s3d_nerf.model import S3DNeRF  # noqa: E402
from s3d_nerf.patches import choose_windows, render_patches  # noqa: E402


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def _setup(n=2):
    torch.manual_seed(0)
    cfg = tiny()
    G = S3DNeRF(cfg).eval()
    for p in G.parameters():  # non-zero deformation so every path is exercised
        p.data.add_(0.05 * torch.randn_like(p))
    S = cfg.image_size
    img = torch.rand(n, 3, S, S)
    mask = (torch.rand(n, 1, S, S) > 0.3).float()
    pose = frontal_pose().expand(n, 4, 4).clone()
    mel = torch.randn(n, cfg.audio.n_mels, cfg.audio.window_frames)
    return cfg, G, img, mask, pose, mel


def test_a_window_interior_matches_whole_frame():
    cfg, G, img, mask, pose, mel = _setup()
    with torch.no_grad():
        ident = G.encode_identity(img, mask, pose)
        _, rgb, out = G.render(ident, mel, pose, False)
        top, left = torch.tensor([2, 5]), torch.tensor([6, 0])
        errs = {}
        for margin in (3, 1):
            win = 4 + 2 * margin
            c, r, _ = render_patches(G, ident, mel, pose, top, left, win, margin, False)
            ref_c = torch.stack([out.coarse[i, :, t + margin:t + margin + 4, l + margin:l + margin + 4]
                                 for i, (t, l) in enumerate(zip(top.tolist(), left.tolist()))])
            ref_r = torch.stack([rgb[i, :, 4 * (t + margin):4 * (t + margin + 4), 4 * (l + margin):4 * (l + margin + 4)]
                                 for i, (t, l) in enumerate(zip(top.tolist(), left.tolist()))])
            errs[margin] = (_rel(c, ref_c), _rel(r, ref_r))
    print("window vs whole frame (coarse, rgb):", errs)
    assert errs[3][0] < 1e-5 and errs[3][1] < 1e-5
    assert errs[1][1] > 1e-4, "a 1-pixel margin should not cover the SR's receptive field"


def test_b_shared_planes_equal_copied_planes():
    cfg, _, img, mask, pose, _ = _setup(1)
    torch.manual_seed(1)
    G = trainer.TrainableS3DNeRF(cfg)
    for p in G.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    T = 3
    mel = torch.randn(T, cfg.audio.n_mels, cfg.audio.window_frames)
    pose_t = pose.expand(T, 4, 4).clone()
    top, left = choose_windows(T, cfg.render_size, 8, None, cfg.image_size, 0.0, torch.Generator().manual_seed(3))

    def run(shared: bool):
        G.zero_grad()
        torch.manual_seed(7)  # same ray jitter in both paths
        if shared:
            c, r, _ = G.train_forward_patches(img, mask, pose, mel, pose_t, T, top, left, 8, 2)
        else:
            ident = G.encode_identity(img, mask, pose)
            rep = lambda t: t.repeat_interleave(T, 0)  # noqa: E731
            ident = ident.map(rep)
            c, r, _ = render_patches(G, ident, mel, pose_t, top, left, 8, 2, True)
        loss = (c ** 2).mean() + (r ** 2).mean()
        loss.backward()
        return loss.detach(), torch.cat([p.grad.reshape(-1) for p in G.parameters() if p.grad is not None])

    l0, g0 = run(False)
    l1, g1 = run(True)
    print("shared vs copied: loss rel", _rel(l1, l0), "grad rel", _rel(g1, g0))
    assert _rel(l1, l0) < 1e-5 and _rel(g1, g0) < 1e-4


def test_c_patch_trainer_and_init_from(tmp_path):
    out = str(tmp_path / "run")
    res = trainer.main(["--config", "tiny", "--data", "synthetic", "--synthetic-size", "64", "--stage", "full",
                        "--patch", "8", "--batch", "1", "--steps", "4", "--adv", "0", "--out", out,
                        "--print-every", "100", "--sample-every", "2", "--ckpt-every", "0", "--ckpt-minutes", "0",
                        "--color-aug", "0.1", "--warmup", "2", "--threads", "2"])
    assert res["steps"] == 4 and all(torch.isfinite(torch.tensor(h["total"])) for h in res["history"])
    export = res["export"]
    res2 = trainer.main(["--config", "tiny", "--data", "synthetic", "--synthetic-size", "64", "--stage", "full",
                         "--patch", "8", "--batch", "1", "--steps", "6", "--adv", "0", "--out", out + "2",
                         "--init-from", export, "--print-every", "100", "--sample-every", "0", "--ckpt-every", "0",
                         "--ckpt-minutes", "0", "--threads", "2"])
    assert res2["steps"] == 6 and len(res2["history"]) == 2, "init-from must continue the step count"


def test_d_sigterm_checkpoints_and_stops(tmp_path):
    """A background run stopped with SIGTERM writes a checkpoint of the step it was on."""
    import signal
    import subprocess
    import time
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, os.path.join(TRAIN, "train.py"), "--config", "tiny", "--data", "synthetic",
                          "--synthetic-size", "64", "--patch", "8", "--batch", "1", "--steps", "100000", "--adv", "0",
                          "--out", str(out), "--print-every", "100000", "--sample-every", "0", "--ckpt-every", "0",
                          "--ckpt-minutes", "0", "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    log = out / "log.csv"
    t0 = time.time()
    while (not log.exists() or log.read_text().count("\n") < 3) and time.time() - t0 < 120:
        time.sleep(0.2)
    assert p.poll() is None, "the run ended on its own"
    p.send_signal(signal.SIGTERM)
    text = p.communicate(timeout=120)[0]
    assert p.returncode == 0, text
    assert "stopped by signal" in text, text
    ck = torch.load(out / "latest.pt", map_location="cpu")
    rows = log.read_text().strip().split("\n")
    assert ck["step"] == int(rows[-1].split(",")[0]) >= 2
