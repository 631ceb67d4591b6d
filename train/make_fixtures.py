"""Golden fixtures for the C++ engine (docs/FIXTURES.md).

    /usr/bin/python3 train/make_fixtures.py           # (re)write tests/fixtures/tiny/
    /usr/bin/python3 train/make_fixtures.py --check   # fail if the committed ones are stale

Tiny config, random (non-zero) weights and inputs from a fixed seed; every stage of
DESIGN §3 gets its own inputs and outputs so the engine can be checked stage by stage."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3d_nerf import renderer, safetensors_io  # noqa: E402
from s3d_nerf.camera import frontal_pose  # noqa: E402
from s3d_nerf.config import tiny  # noqa: E402
from s3d_nerf.encoder import sample_triplanes  # noqa: E402
from s3d_nerf.export import export  # noqa: E402
from s3d_nerf.model import S3DNeRF  # noqa: E402
from s3d_nerf.super_resolution import hide_mouth  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "tiny")
SEED = 1234
TOLERANCE = 1e-5  # --check: relative error allowed between regenerated and committed


def randomise(model: torch.nn.Module, g: torch.Generator) -> None:
    """Random non-zero weights everywhere (also layers that train from zero)."""
    for name, p in model.named_parameters():
        with torch.no_grad():
            if p.dim() == 1 and ("norm" in name and name.endswith("weight")):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 / math.sqrt(fan_in)))


def look_at_pose(yaw_deg: float, pitch_deg: float, radius: float = 2.7) -> torch.Tensor:
    """EG3D-style camera on a sphere of `radius` around the origin, looking at (0, 0, 0.2);
    yaw 0, pitch 0 is the frontal camera; positive pitch = camera above (world +y is up)
    [ours; mirrors ts/pose.ts]."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    target = torch.tensor([0.0, 0.0, 0.2])
    origin = radius * torch.tensor([math.sin(y) * math.cos(p), math.sin(p), math.cos(y) * math.cos(p)])
    fwd = (target - origin) / (target - origin).norm()
    right = torch.linalg.cross(torch.tensor([0.0, -1.0, 0.0]), fwd)
    right = right / right.norm()
    down = torch.linalg.cross(fwd, right)
    m = torch.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, down, fwd, origin
    return m


def build(out_dir: str) -> None:
    cfg = tiny()
    g = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    model = S3DNeRF(cfg).eval()
    randomise(model, g)
    os.makedirs(out_dir, exist_ok=True)
    export(model, os.path.join(out_dir, "model.safetensors"),
           {"trained": False, "purpose": "golden fixtures", "seed": SEED}, dtype=torch.float32)

    H = cfg.image_size
    rnd = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    image = rnd(3, H, H)
    mask = (0.2 + 0.8 * rnd(H, H))
    pose_src = look_at_pose(8.0, -4.0)
    pose_tar = look_at_pose(-12.0, 6.0)
    mel = -11 + 14 * rnd(cfg.audio.n_mels, cfg.audio.window_frames)

    stages, tensors = [], {}

    def add(name, inputs, outputs):
        stages.append({"name": name, "inputs": list(inputs), "outputs": list(outputs)})
        for k, v in inputs.items():
            tensors[f"{name}/in/{k}"] = v.detach().float().contiguous()
        for k, v in outputs.items():
            tensors[f"{name}/out/{k}"] = v.detach().float().contiguous()

    with torch.no_grad():
        feats = model.encoder(image[None], mask[None, None])
        add("encoder", {"image": image, "mask": mask}, {f"f{i}": f[0] for i, f in enumerate(feats)})
        planes = {f"f{i}": f[0] for i, f in enumerate(feats)}

        f_agg = model.aggregator(feats)
        add("aggregate", planes, {"f_agg": f_agg[0]})

        tokens, code = model.audio_net(mel[None])
        add("audio_net", {"mel": mel}, {"tokens": tokens[0], "code": code[0]})

        cm = model.cross_attention(model.cross_attention.query(f_agg), tokens)
        add("cross_attention", {"f_agg": f_agg[0], "tokens": tokens[0]}, {"cm": cm[0]})

        n = 777
        pts = (rnd(n, 3) - 0.5) * 1.3  # some points fall outside the box: exercises zero padding
        dx = model.deform(pts[None], cm, code)
        add("deform", {"points": pts, "cm": cm[0], "code": code[0]}, {"delta": dx[0]})

        sig, feat = model.decoder(sample_triplanes(feats, pts[None], cfg.plane_channels, cfg.plane_scale))
        add("triplane_decode", dict(planes, points=pts), {"sigma": sig[0], "feat": feat[0]})

        r, s = 50, 13
        depths = torch.sort(2.25 + 1.05 * rnd(r, s), -1).values
        sigma = 4 * torch.randn(r, s, generator=g)
        fe = rnd(r, s, cfg.feat_channels)
        img, alpha, w = renderer.composite(depths, sigma, fe)
        add("volume_render", {"depths": depths, "sigma": sigma, "feat": fe},
            {"image": img, "alpha": alpha, "weights": w})

        wts = rnd(r, s - 1) ** 3
        add("importance", {"depths": depths, "weights": wts},
            {"depths": renderer.importance_depths(depths, wts, cfg.n_importance, jitter=False)})

        ident = model.encode_identity(image[None], mask[None, None], pose_src[None])
        out = model.nerf(ident, cm, code, pose_tar[None])
        add("nerf", dict(planes, cm=cm[0], code=code[0], pose_src=pose_src, pose_tar=pose_tar),
            {"coarse": out.coarse[0]})

        # A hard, random (so non-symmetric) inner-face mask for the SR source's mouth hole;
        # both the hidden and the kept pixels must occur below the cut for it to be exercised.
        sr_mask = (rnd(H, H) < 0.6).float()
        below = (torch.arange(H) + 0.5) / H >= cfg.sr_hide_below                  # (H,) rows in the hole band
        assert cfg.sr_hide_below > 0 and 0 < sr_mask[below].mean() < 1
        full, half = model.sr_source(hide_mouth(image[None], sr_mask[None, None], cfg.sr_hide_below))
        add("sr_source", {"image": image, "mask": sr_mask}, {"full": full[0], "half": half[0]})

        _, rgb = model.sr(out.coarse, full, half)
        add("sr", {"coarse": out.coarse[0], "full": full[0], "half": half[0]}, {"rgb": rgb[0]})

        _, rgb_e2e, out_e2e = model.render(ident, mel[None], pose_tar[None])
        add("frame", {"image": image, "mask": mask, "pose_src": pose_src, "pose_tar": pose_tar, "mel": mel},
            {"rgb": rgb_e2e[0], "coarse": out_e2e.coarse[0]})

    safetensors_io.save(os.path.join(out_dir, "stages.safetensors"), tensors,
                        {"stages": json.dumps(stages), "config": cfg.to_json(), "seed": str(SEED)})


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        build(tmp)
        bad = 0
        for fname in ("model.safetensors", "stages.safetensors"):
            new, new_meta = safetensors_io.load(os.path.join(tmp, fname))
            old, old_meta = safetensors_io.load(os.path.join(OUT_DIR, fname))
            if set(new) != set(old) or new_meta != old_meta:
                print(f"STALE {fname}: tensor names or metadata differ")
                bad += 1
                continue
            for k in sorted(new):
                if new[k].shape != old[k].shape or rel_err(old[k], new[k]) > TOLERANCE:
                    print(f"STALE {fname}: {k}")
                    bad += 1
    print("fixtures are stale: run /usr/bin/python3 train/make_fixtures.py" if bad else "fixtures up to date")
    return 1 if bad else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    if a.check:
        sys.exit(check())
    build(OUT_DIR)
    print("wrote", OUT_DIR)
