"""Golden fixtures for the C++ engine (docs/FIXTURES.md).

    /usr/bin/python3 train/make_fixtures.py           # (re)write tests/fixtures/{tiny,realistic}/
    /usr/bin/python3 train/make_fixtures.py --check   # fail if the committed ones are stale

tiny: the tiny config, fp32, random (non-zero) weights and inputs from a fixed seed;
every stage of DESIGN §3 gets its own inputs and outputs so the engine can be checked
stage by stage. A stage is named after its file (train/s3d_nerf/<name>.py, cpp/model/<name>.h;
<file>_<part> where one file has two checked entry points, e.g. volume_render_importance,
super_resolution_source; frame is the whole pipeline; docs/FIXTURES.md has the table).
tiny/api.safetensors: one whole frame as the public API is given it
(uint8 HWC image, 68 landmarks, poses, a waveform and a frame index), for
tests/api-parity.test.mjs.
realistic: the shipped model's sample counts and widths where the engine has special
paths, exported in fp16 like the shipped weights (the reference runs the fp16-rounded
weights): the nerf_renderer, super_resolution and frame stages."""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from s3d_nerf import alignment, safetensors_io, volume_render  # noqa: E402
from s3d_nerf import audio as audio_fe  # noqa: E402
from s3d_nerf.camera import frontal_pose  # noqa: E402
from s3d_nerf.config import ModelConfig, tiny  # noqa: E402
from s3d_nerf.export import export  # noqa: E402
from s3d_nerf.model import S3DNeRF  # noqa: E402
from s3d_nerf.super_resolution import hide_mouth, hole_weight, mouth_hole  # noqa: E402
from s3d_nerf.triplane import sample_triplanes  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
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
    [ours; mirrors ts/camera.ts]."""
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


def realistic() -> ModelConfig:
    """Small where cost is (image 64, thin encoder and MLPs) but shipped-sized where the
    engine has special paths: C = 32 plane channels (the AVX-512 tri-plane taps), a
    36-channel coarse image, 32 + 24 samples (a 7-ray block of 224 coarse points is two
    MLP chunks of 168, the second ragged; s3d-64's 24 + 24 fill exactly one), and a 16 x 16
    ray grid (the last 7-ray block is ragged). Its mouth hole is the first models' hard row
    cut (box [0, 0.58, 1, 1], no feather) with the learned source gate, as in the first
    trained model; tiny's is a feathered box with the source pasted outside it
    (sr_paste_source), as in today's config."""
    return dataclasses.replace(
        tiny(), name="realistic", enc_channels=[8, 16, 24, 96], plane_channels=32, feat_channels=32,
        n_coarse=32, n_importance=24, sr_source_channels=[8, 16], sr_hole=[0.0, 0.58, 1.0, 1.0],
        sr_hole_feather=0.0, sr_source_gate=True, sr_paste_source=False).validate()


def build_realistic(out_dir: str) -> None:
    cfg = realistic()
    g = torch.Generator().manual_seed(SEED + 1)
    torch.manual_seed(SEED + 1)
    model = S3DNeRF(cfg).eval()
    randomise(model, g)
    os.makedirs(out_dir, exist_ok=True)
    export(model, os.path.join(out_dir, "model.safetensors"),
           {"trained": False, "purpose": "golden fixtures (fp16 export)", "seed": SEED + 1}, dtype=torch.float16)
    with torch.no_grad():  # the reference runs exactly the weights the engine loads
        for t in model.state_dict().values():
            t.copy_(t.half().float())

    H = cfg.image_size
    rnd = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    image = rnd(3, H, H)
    mask = (rnd(H, H) < 0.7).float()                    # non-symmetric, hard
    pose_src = look_at_pose(5.0, 3.0)
    pose_tar = look_at_pose(-9.0, -5.0)
    mel = -11 + 14 * rnd(cfg.audio.n_mels, cfg.audio.window_frames)
    stages, tensors = [], {}
    add = _adder(stages, tensors)
    with torch.no_grad():
        ident = model.encode_identity(image[None], mask[None, None], pose_src[None])
        planes = {f"f{i}": f[0] for i, f in enumerate(ident.planes)}
        # No separate triplane_decoder stage: nerf_renderer runs the C = 32 taps on these
        # planes already, and a second copy of them would double the file.
        tokens, code = model.audio_net(mel[None])
        cm = model.cross_attention(ident.query, tokens)
        out = model.nerf(ident, cm, code, pose_tar[None])
        add("nerf_renderer", dict(planes, cm=cm[0], code=code[0], pose_src=pose_src, pose_tar=pose_tar),
            {"coarse": out.coarse[0]})

        assert cfg.sr_source_gate  # with sr_paste_source super_resolution would need ident.src_keep too
        _, rgb = model.sr(out.coarse, ident.src_full, ident.src_half, ident.src_image)
        add("super_resolution", {"coarse": out.coarse[0], "full": ident.src_full[0], "half": ident.src_half[0],
                   "seen": ident.src_image[0]}, {"rgb": rgb[0]})

        _, rgb_e2e, out_e2e = model.render(ident, mel[None], pose_tar[None])
        add("frame", {"image": image, "mask": mask, "pose_src": pose_src, "pose_tar": pose_tar, "mel": mel},
            {"rgb": rgb_e2e[0], "coarse": out_e2e.coarse[0]})
    safetensors_io.save(os.path.join(out_dir, "stages.safetensors"), tensors,
                        {"stages": json.dumps(stages), "config": cfg.to_json(), "seed": str(SEED + 1)})


def _adder(stages, tensors):
    def add(name, inputs, outputs):
        stages.append({"name": name, "inputs": list(inputs), "outputs": list(outputs)})
        for k, v in inputs.items():
            tensors[f"{name}/in/{k}"] = v.detach().float().contiguous()
        for k, v in outputs.items():
            tensors[f"{name}/out/{k}"] = v.detach().float().contiguous()
    return add


def build_tiny(out_dir: str) -> None:
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
    add = _adder(stages, tensors)

    with torch.no_grad():
        feats = model.encoder(image[None], mask[None, None])
        add("encoder", {"image": image, "mask": mask}, {f"f{i}": f[0] for i, f in enumerate(feats)})
        planes = {f"f{i}": f[0] for i, f in enumerate(feats)}

        f_agg = model.aggregator(feats)
        add("slot_attention", planes, {"f_agg": f_agg[0]})

        tokens, code = model.audio_net(mel[None])
        add("audio_net", {"mel": mel}, {"tokens": tokens[0], "code": code[0]})

        cm = model.cross_attention(model.cross_attention.query(f_agg), tokens)
        add("cross_attention", {"f_agg": f_agg[0], "tokens": tokens[0]}, {"cm": cm[0]})

        n = 777
        pts = (rnd(n, 3) - 0.5) * 1.3  # some points fall outside the box: exercises zero padding
        dx = model.deform(pts[None], cm, code)
        add("deformation_field", {"points": pts, "cm": cm[0], "code": code[0]}, {"delta": dx[0]})

        sig, feat = model.decoder(sample_triplanes(feats, pts[None], cfg.plane_channels, cfg.plane_scale))
        add("triplane_decoder", dict(planes, points=pts), {"sigma": sig[0], "feat": feat[0]})

        r, s = 50, 13
        depths = torch.sort(2.25 + 1.05 * rnd(r, s), -1).values
        sigma = 4 * torch.randn(r, s, generator=g)
        fe = rnd(r, s, cfg.feat_channels)
        img, alpha, w = volume_render.composite(depths, sigma, fe)
        add("volume_render", {"depths": depths, "sigma": sigma, "feat": fe},
            {"image": img, "alpha": alpha, "weights": w})

        wts = rnd(r, s - 1) ** 3
        add("volume_render_importance", {"depths": depths, "weights": wts},
            {"depths": volume_render.importance_depths(depths, wts, cfg.n_importance, jitter=False)})

        ident = model.encode_identity(image[None], mask[None, None], pose_src[None])
        out = model.nerf(ident, cm, code, pose_tar[None])
        add("nerf_renderer", dict(planes, cm=cm[0], code=code[0], pose_src=pose_src, pose_tar=pose_tar),
            {"coarse": out.coarse[0]})

        # A hard, random (so non-symmetric) inner-face mask for the SR source's mouth hole;
        # hidden, ramped (feathered edge) and kept pixels must all occur inside the box.
        sr_mask = (rnd(H, H) < 0.6).float()
        w = hole_weight(H, cfg.sr_hole, cfg.sr_hole_feather)                      # (H,W)
        assert cfg.sr_hole and 0 < sr_mask[w > 0].mean() < 1
        assert bool(((w > 0) & (w < 1) & (sr_mask > 0)).any()) and bool(((w == 1) & (sr_mask > 0)).any())
        hole = mouth_hole(sr_mask[None, None], cfg.sr_hole, cfg.sr_hole_feather)  # (1,1,H,W)
        seen, keep = hide_mouth(image[None], hole), 1 - hole
        full, half = model.sr_source(seen)
        add("super_resolution_source", {"image": image, "mask": sr_mask},
            {"full": full[0], "half": half[0], "seen": seen[0], "keep": keep[0]})

        assert cfg.sr_paste_source and not cfg.sr_source_gate
        _, rgb = model.sr(out.coarse, full, half, seen, keep)
        add("super_resolution", {"coarse": out.coarse[0], "full": full[0], "half": half[0], "seen": seen[0],
                                 "keep": keep[0]}, {"rgb": rgb[0]})

        _, rgb_e2e, out_e2e = model.render(ident, mel[None], pose_tar[None])
        add("frame", {"image": image, "mask": mask, "pose_src": pose_src, "pose_tar": pose_tar, "mel": mel},
            {"rgb": rgb_e2e[0], "coarse": out_e2e.coarse[0]})

    safetensors_io.save(os.path.join(out_dir, "stages.safetensors"), tensors,
                        {"stages": json.dumps(stages), "config": cfg.to_json(), "seed": str(SEED)})
    build_api(model, os.path.join(out_dir, "api.safetensors"))


API_RATE = 22050      # not the model's 16 kHz: prepareAudio must resample
API_SECONDS = 0.6     # 15 video frames
API_FRAME = 7         # its deformation window lies inside the log-mel track
API_POSES = {"pose_src": {"yaw": 6.0, "pitch": 3.0}, "pose_tar": {"yaw": -10.0, "pitch": -5.0}}  # poseFromAngles


def _api_landmarks(size: int, g: torch.Generator) -> np.ndarray:
    """68 landmarks near the template but not left/right symmetric: rotated 9 degrees,
    stretched 6 % more in x than y, shifted right and down, jittered; rounded to float32
    (what the fixture stores). No polygon edge passes within 1e-3 px of a pixel centre, so
    any correct rasteriser agrees pixel for pixel."""
    p = alignment.template_points(size)
    th = math.radians(9.0)
    R = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]]) @ np.diag([1.06, 1.0])
    c = np.array([size / 2, size / 2])
    p = (p - c) @ R.T + c + np.array([1.7, 2.3]) + 0.6 * torch.randn(68, 2, generator=g, dtype=torch.float64).numpy()
    p = p.astype(np.float32).astype(np.float64)
    poly = alignment.mask_polygon(p)
    q = np.roll(poly, 1, axis=0)
    for y in range(size):
        py = y + 0.5
        assert np.all(np.abs(poly[:, 1] - py) > 1e-3), "a polygon vertex on a scanline"
        for (xi, yi), (xj, yj) in zip(poly, q):
            if (yi > py) != (yj > py):
                x = xi + (py - yi) / (yj - yi) * (xj - xi)
                assert abs(x - 0.5 - round(x - 0.5)) > 1e-3, "a polygon edge through a pixel centre"
    return p


def _speech(n: int, rate: int, g: torch.Generator) -> torch.Tensor:
    """Speech-like: six harmonics of a drifting 120 +- 40 Hz pitch, voiced 0.5 s of every
    0.7 s (so the window sees an onset), a little noise."""
    t = np.arange(n, dtype=np.float64) / rate
    f0 = 120 + 40 * np.sin(2 * math.pi * 1.3 * t)
    phase = 2 * math.pi * np.cumsum(f0) / rate
    v = sum(np.sin(h * phase + h) / h for h in range(1, 7))
    on = ((t + 0.35) % 0.7 < 0.5).astype(np.float64)
    noise = torch.randn(n, generator=g, dtype=torch.float64).numpy()
    return torch.from_numpy((0.3 * on * v + 0.01 * noise).astype(np.float32))


def build_api(model: S3DNeRF, path: str) -> None:
    """One frame through the public API's inputs: the image as bytes (HWC, RGB), 68
    landmarks for the inner-face mask (aligned crop, so no alignment), a source and a target
    camera, a waveform at API_RATE and a frame index. Outputs: the mask (alignment.fill_mask
    of the jaw + brows polygon, as the training data makes it), the log-mel window of the
    frame (the Python audio front end) and the frame."""
    cfg = model.cfg
    H = cfg.image_size
    g = torch.Generator().manual_seed(SEED + 2)
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32) / (H - 1),
                            torch.arange(H, dtype=torch.float32) / (H - 1), indexing="ij")
    smooth = torch.stack([0.15 + 0.7 * xx, 0.1 + 0.5 * yy + 0.3 * xx * yy, 0.8 - 0.6 * (xx - 0.3) ** 2 - 0.2 * yy], -1)
    img_u8 = (255 * smooth + 40 * (torch.rand(H, H, 3, generator=g) - 0.5)).round().clamp(0, 255)   # (H,W,3) bytes
    image = (img_u8.to(torch.uint8).float() / 255).permute(2, 0, 1).contiguous()

    lm = _api_landmarks(H, g)
    poly = alignment.mask_polygon(lm)
    mask = torch.from_numpy(alignment.fill_mask(poly, H))

    pose_src, pose_tar = (look_at_pose(API_POSES[k]["yaw"], API_POSES[k]["pitch"]) for k in ("pose_src", "pose_tar"))

    n = round(API_SECONDS * API_RATE)
    samples = _speech(n, API_RATE, g)
    a = cfg.audio
    x16k = audio_fe.resample_to(samples, API_RATE, a.sample_rate)
    frames = audio_fe.frame_count(x16k.numel(), a)
    mel = audio_fe.deform_window(audio_fe.log_mel(x16k, a), API_FRAME, a)
    assert 0 <= audio_fe.deform_start(API_FRAME, a) and \
        audio_fe.deform_start(API_FRAME, a) + a.window_frames <= audio_fe.mel_frames(x16k.numel(), a)

    with torch.no_grad():
        ident = model.encode_identity(image[None], mask[None, None], pose_src[None])
        _, rgb, _ = model.render(ident, mel[None], pose_tar[None])
    tensors = {"in/image": img_u8, "in/landmarks": torch.from_numpy(lm).float(), "in/pose_src": pose_src,
               "in/pose_tar": pose_tar, "in/samples": samples,
               "out/mask": mask, "out/mel": mel, "out/rgb": rgb[0]}
    meta = {"config": cfg.to_json(), "seed": str(SEED + 2), "sample_rate": str(API_RATE), "frame": str(API_FRAME),
            "frame_count": str(frames), "pose_src_angles": json.dumps(API_POSES["pose_src"]),
            "pose_tar_angles": json.dumps(API_POSES["pose_tar"]),
            "layout": "in/image (H,W,3) byte values 0..255 stored as F32, RGB; in/landmarks (68,2) x,y "
                      "in image pixels; out/rgb (3,H,W); out/mask (H,W)"}
    safetensors_io.save(path, {k: v.detach().float().contiguous() for k, v in tensors.items()}, meta)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.float(), b.float()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def check_set(name: str, build) -> int:
    """Rebuilds one fixture set in a temp dir; counts the stale files and tensors."""
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        build(tmp)
        for fname in sorted(set(os.listdir(tmp)) | {"model.safetensors", "stages.safetensors"}):
            if not os.path.exists(os.path.join(FIXTURES, name, fname)):
                print(f"STALE {name}/{fname}: missing")
                bad += 1
                continue
            new, new_meta = safetensors_io.load(os.path.join(tmp, fname))
            old, old_meta = safetensors_io.load(os.path.join(FIXTURES, name, fname))
            if set(new) != set(old) or new_meta != old_meta:
                print(f"STALE {name}/{fname}: tensor names or metadata differ")
                bad += 1
                continue
            for k in sorted(new):
                if new[k].shape != old[k].shape or rel_err(old[k], new[k]) > TOLERANCE:
                    print(f"STALE {name}/{fname}: {k}")
                    bad += 1
    return bad


SETS = {"tiny": build_tiny, "realistic": build_realistic}


def check() -> int:
    bad = sum(check_set(name, build) for name, build in SETS.items())
    print("fixtures are stale: run /usr/bin/python3 train/make_fixtures.py" if bad else "fixtures up to date")
    return 1 if bad else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    if a.check:
        sys.exit(check())
    for name, build in SETS.items():
        build(os.path.join(FIXTURES, name))
        print("wrote", os.path.join(FIXTURES, name))
