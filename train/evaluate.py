#!/usr/bin/python3
"""Single-shot evaluation of an exported S3D-NeRF model (issue 4 item 6).

For a talking clip that was not used in training, render every target frame from the
clip's FIRST frame (aligned as train/prepare_data.py does) with the clip's own audio and
the target head poses estimated from the landmarks, using the PyTorch reference model
loaded from the safetensors export (s3d_nerf.export.load; no Node/engine needed), and
compare with the ground-truth frames.

Input, either
  --manifest .cache/data/manifest.json --clip NAME [--clip NAME ...]   prepared clips: the
        validation split (last 15 %) is used, source = its first frame (val_start);
  --video CLIP.mp4 [--wav CLIP.wav]   any clip: decoded, landmarked (tools/landmarks68),
        aligned, posed and turned into log-mel exactly as prepare_data.py does (in memory,
        nothing written); source = frame --start (default 0).
Targets are the --frames N frames AFTER the source frame (the source frame itself is
left out: reproducing it would only measure auto-encoding, and for the "copy source
frame" baseline it would be a free perfect frame).

Metrics (all on the aligned 256x256 crops; a model with a smaller image_size renders at
its size and is upsampled bicubically to 256 before scoring):
  PSNR   dB, full frame and within the ground-truth inner-face mask (jaw 0..16 + brows
         26..17 polygon, alignment.fill_mask); identical frames -> PSNR_CAP (100 dB).
  SSIM   own implementation: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, data range 1,
         valid-mode filtering, per RGB channel then averaged; "mask" = mean of the SSIM map
         over the mask pixels (the mask cropped by the 5-px window border like the map).
         Full-frame values equal skimage's structural_similarity(gaussian_weights=True,
         sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=2) to ~1e-6.
  M-LMD / F-LMD  mean Euclidean distance in pixels at 256^2 between dlib 68-point
         landmarks (tools/landmarks68) of the generated and the ground-truth crops, mouth
         points 48..67 / all 68 (the paper's plain pixel distance); the same tool runs on
         both so detector bias cancels. M-NME / F-NME: the same distances divided by the
         ground-truth inter-ocular distance (eye centres = means of 36..41 and 42..47), %.
         Frames with no landmarks in either sequence (tool status 0) are skipped and counted.
  Sync   mean cosine similarity (SyncNet Eq. 6, --sync-checkpoint) between the 5-frame lip
         crops starting at every target frame t (with 4 more targets after it) and the
         ground-truth lip-sync audio window of t; lip boxes = ground-truth boxes (as in
         training). Frames are resized to the SyncNet's training image size first. The
         "ground truth" row gives the same score for the real frames (reference), and
         "sync_shifted" the score of real frames against audio 8 frames away (chance level).

Rows: "model" (the S3D-NeRF renders), "copy source frame" (the source crop repeated:
no motion at all, the reference any model must beat on lip metrics), for models with
image_size < 256 "copy source frame @S²" (the same, down- and bicubically up-sampled
through the model's resolution S: the share of the gap that is resolution alone), "ground truth"
(identity: PSNR cap, SSIM 1, LMD 0; it checks the pipeline and carries the reference
sync score).

usage:
  /usr/bin/python3 train/evaluate.py --model .cache/runs/tiny-real-ae/model.safetensors \
      --manifest .cache/data/manifest.json --clip train01_aoc__retalking_face3 --frames 16 \
      --sync-checkpoint .cache/runs/tiny-real-sync2/syncnet.pt --json out.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from s3d_nerf import alignment as A  # noqa: E402
from s3d_nerf import audio as AU  # noqa: E402
from s3d_nerf import export as export_mod  # noqa: E402
from s3d_nerf.config import CONFIGS, AudioConfig  # noqa: E402

SIZE = A.IMAGE_SIZE            # 256: metrics resolution
PSNR_CAP = 100.0
SYNC_T = 5
SYNC_SHIFT = 8                 # frames between lips and audio for the chance-level reference
MOUTH = np.arange(48, 68)
LEYE, REYE = np.arange(36, 42), np.arange(42, 48)


# ============================================================================ metrics
def psnr(x: torch.Tensor, y: torch.Tensor, mask: Optional[torch.Tensor] = None, cap: float = PSNR_CAP) -> torch.Tensor:
    """x, y (N,3,H,W) in [0,1]; mask (N,1,H,W) {0,1} or None -> (N,) dB, capped at `cap`
    (identical images give the cap instead of inf)."""
    d2 = (x.double() - y.double()) ** 2
    if mask is None:
        mse = d2.flatten(1).mean(1)
    else:
        m = mask.double().expand_as(d2)
        mse = (d2 * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1)
    out = torch.full_like(mse, cap)
    nz = mse > 0
    out[nz] = (-10 * torch.log10(mse[nz])).clamp(max=cap)
    return out.float()


def _gauss1d(win: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(win, dtype=torch.float64) - (win - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def ssim_map(x: torch.Tensor, y: torch.Tensor, win: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """(N,C,H,W) in [0,1] -> (N,C,H-win+1,W-win+1) SSIM map (valid filtering; float32 --
    the five local moments of all channels go through one separable single-channel conv)."""
    x, y = x.float(), y.float()
    n, c, h, w = x.shape
    g = _gauss1d(win, sigma).float().to(x.device)
    t = torch.stack([x, y, x * x, y * y, x * y], 2).reshape(n * c * 5, 1, h, w)
    t = F.conv2d(F.conv2d(t, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))
    mx, my, exx, eyy, exy = t.reshape(n, c, 5, *t.shape[-2:]).unbind(2)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    sxx, syy, sxy = exx - mx * mx, eyy - my * my, exy - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def ssim_full_and_masked(x: torch.Tensor, y: torch.Tensor, mask: Optional[torch.Tensor], win: int = 11,
                         chunk: int = 16):
    """Mean SSIM per image (N,), channel-averaged, over the whole map and (mask (N,1,H,W)
    given) over the mask pixels (mask cropped by win//2 on every side to the map's extent)."""
    full, masked = [], []
    r = win // 2
    for i in range(0, x.shape[0], chunk):
        m = ssim_map(x[i:i + chunk], y[i:i + chunk], win).mean(1).double()     # (n,h,w)
        full.append(m.flatten(1).mean(1))
        if mask is not None:
            mk = mask[i:i + chunk, 0, r:mask.shape[2] - r, r:mask.shape[3] - r].double()
            masked.append((m * mk).flatten(1).sum(1) / mk.flatten(1).sum(1).clamp_min(1))
    return torch.cat(full).float(), (torch.cat(masked).float() if mask is not None else None)


def ssim(x: torch.Tensor, y: torch.Tensor, mask: Optional[torch.Tensor] = None, win: int = 11) -> torch.Tensor:
    """(N,) SSIM, full frame or (mask given) within the mask."""
    full, masked = ssim_full_and_masked(x, y, mask, win)
    return full if mask is None else masked


def inter_ocular(lm: np.ndarray) -> np.ndarray:
    """(N,68,2) -> (N,) distance between the eye centres."""
    return np.linalg.norm(lm[:, LEYE].mean(1) - lm[:, REYE].mean(1), axis=-1)


def landmark_distance(pred: np.ndarray, gt: np.ndarray, idx=None) -> np.ndarray:
    """(N,68,2) x2 -> (N,) mean point-to-point pixel distance over idx (all 68 by default)."""
    idx = np.arange(68) if idx is None else idx
    return np.linalg.norm(pred[:, idx] - gt[:, idx], axis=-1).mean(1)


# ============================================================================ landmarks
LM_TOOL = ROOT / "tools" / "landmarks68" / "landmarks68"
DLIB_MODEL = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"


def ensure_tool() -> None:
    if not LM_TOOL.exists() or LM_TOOL.stat().st_mtime < LM_TOOL.with_suffix(".cpp").stat().st_mtime:
        print("building tools/landmarks68 ...", file=sys.stderr)
        subprocess.run([str(LM_TOOL.parent / "build.sh")], check=True)


def landmarks68(frames: np.ndarray) -> tuple:
    """(N,H,W,3) uint8 -> (N,68,2) float64 pixel landmarks (dlib convention), (N,) status
    (1 detected, 2 tracked from the previous frame, 0 none) -- as prepare_data.run_landmarks."""
    ensure_tool()
    n, h, w, _ = frames.shape
    out = subprocess.run([str(LM_TOOL), str(w), str(h), DLIB_MODEL], input=np.ascontiguousarray(frames).tobytes(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout.decode()
    rows = np.array([[float(v) for v in line.split()] for line in out.splitlines()], np.float64)
    if rows.shape != (n, 138):
        raise RuntimeError(f"landmarks68 returned {rows.shape} for {n} frames")
    return rows[:, 2:].reshape(n, 68, 2), rows[:, 0].astype(np.int8)


# ============================================================================ clips
class EvalClip:
    """Everything evaluation needs for one clip, absolute frame indices:
    crops (N,256,256,3) uint8, pose (N,4,4), mask_poly (N,27,2), lip_box (N,4) at 256^2,
    mel (n_mels,T) for the whole clip; source index s and targets s+1..s+n."""

    def __init__(self, name, crops, pose, mask_poly, lip_box, mel, source: int, targets: List[int], sources):
        self.name, self.crops, self.pose, self.mask_poly, self.lip_box, self.mel = \
            name, crops, pose, mask_poly, lip_box, mel
        self.source, self.targets, self.sources = source, targets, sources


def load_prepared_clip(manifest: str, name: str, frames: int, start: Optional[int] = None) -> EvalClip:
    man = json.loads(Path(manifest).read_text())
    entries = {e["name"]: e for e in man["clips"]}
    if name not in entries:
        raise SystemExit(f"clip {name!r} not in {manifest}; have: {', '.join(sorted(entries))}")
    e = entries[name]
    cdir = Path(manifest).parent / e["dir"]
    meta = np.load(cdir / "meta.npz")
    lo, hi = e["splits"]["val"]
    s = lo if start is None else int(start)
    if not (0 <= s < hi - 1):
        raise SystemExit(f"{name}: start {s} outside [0, {hi - 1})")
    n = min(frames, hi - 1 - s) if frames > 0 else hi - 1 - s
    if not (cdir / "crops.npy").exists():
        from s3d_nerf.dataset import rebuild_crops
        rebuild_crops(cdir, Path(e["sources"]["mp4"]))
    crops = np.load(cdir / "crops.npy", mmap_mode="r")
    return EvalClip(name, crops, meta["pose"].astype(np.float32), meta["mask_poly"].astype(np.float32),
                    meta["lip_box"].astype(np.float32), torch.from_numpy(np.load(cdir / "mel.npy")),
                    s, list(range(s + 1, s + 1 + n)), {"manifest": str(manifest), "split": "val", **e["sources"]})


def prepare_video(mp4: str, wav: Optional[str], frames: int, start: int = 0) -> EvalClip:
    """prepare_data.prepare_clip in memory, restricted to frames start..start+frames."""
    import prepare_data as P
    mp4 = Path(mp4)
    vst = [s for s in P.probe(mp4)["streams"] if s["codec_type"] == "video"][0]
    w, h = int(vst["width"]), int(vst["height"])
    ts = P.video_timestamps(mp4)
    raw = P.decode_frames(mp4, w, h)
    k = min(len(raw), len(ts))
    raw, ts = raw[:k], ts[:k]
    dts = np.diff(ts)
    n_video = int(math.floor((ts[-1] - ts[0] + (np.median(dts) if len(dts) else 1 / P.FPS)) * P.FPS + 1e-6))
    if wav:
        x, sr, _ = P.decode_audio(Path(wav)); offset = 0.0
    else:
        x, sr, a_start = P.decode_audio(mp4); offset = a_start - ts[0]
    x16 = AU.resample_to(x, sr, 16000).numpy()
    if abs(offset) > 1e-4:
        kk = int(round(abs(offset) * 16000))
        x16 = np.concatenate([np.zeros(kk, np.float32), x16]) if offset > 0 else x16[kk:]
    n = min(n_video, AU.frame_count(len(x16)))
    mel = AU.log_mel(x16[: int(math.ceil(n * 16000 / P.FPS))], AudioConfig())
    end = n if frames <= 0 else min(n, start + 1 + frames)
    if not (0 <= start < end - 1):
        raise SystemExit(f"{mp4.name}: start {start} outside the {n} frames")
    sel = P.select_frames(ts, n)[:end]
    f25 = np.ascontiguousarray(raw[sel])
    del raw
    lm_raw, status, _ = P.run_landmarks(f25)
    lm_raw, status = P.fill_missing(lm_raw, status)
    lm_s = P.gsmooth(lm_raw, P.LM_SIGMA)
    aff = np.stack([A.align_matrix(p, SIZE) for p in lm_s])
    aff = A.matrix_from_params(P.gsmooth(A.params_from_matrix(aff), P.AFFINE_SIGMA))
    lm_c = np.stack([A.apply(M, p) for M, p in zip(aff, lm_s)])
    pose = A.smooth_rotations(np.stack([A.estimate_pose(p, SIZE) for p in lm_c]), P.POSE_SIGMA)
    crops = np.stack([A.warp_crop(f, M, SIZE) for f, M in zip(f25, aff)])
    return EvalClip(mp4.stem, crops, pose.astype(np.float32),
                    np.stack([A.mask_polygon(p) for p in lm_c]).astype(np.float32),
                    np.stack([A.lip_box(p, size=SIZE) for p in lm_c]).astype(np.float32), mel,
                    start, list(range(start + 1, end)), {"mp4": str(mp4), **({"wav": str(wav)} if wav else {})})


# ============================================================================ rendering
def to_tensor(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(crops)).float().div_(255).permute(0, 3, 1, 2).contiguous()


def resize(x: torch.Tensor, size: int, mode: str = "bilinear") -> torch.Tensor:
    if x.shape[-1] == size:
        return x
    if size < x.shape[-1]:   # as dataset._img
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(x, size=(size, size), mode=mode, align_corners=False).clamp(0, 1)


@torch.no_grad()
def render_clip(model, clip: EvalClip, device, batch: int = 8) -> torch.Tensor:
    """(n,3,256,256) float in [0,1], quantised to 8 bit like a written video frame."""
    cfg = model.cfg
    S = cfg.image_size
    src = resize(to_tensor(clip.crops[clip.source:clip.source + 1]), S).to(device)
    mask = torch.from_numpy(A.fill_mask(clip.mask_poly[clip.source] * (S / SIZE), S))[None, None].to(device)
    pose_src = torch.from_numpy(clip.pose[clip.source:clip.source + 1]).to(device)
    ident = model.encode_identity(src, mask, pose_src)
    out = []
    for i in range(0, len(clip.targets), batch):
        ts = clip.targets[i:i + batch]
        b = len(ts)
        rep = lambda t: t.expand(b, *t.shape[1:])  # noqa: E731
        id_b = ident.map(rep)
        mel = torch.stack([AU.deform_window(clip.mel, t, cfg.audio) for t in ts]).to(device)
        pose = torch.from_numpy(clip.pose[ts]).to(device)
        _, rgb, _ = model.render(id_b, mel, pose, jitter=False)
        out.append(resize(rgb.float().clamp(0, 1).cpu(), SIZE, "bicubic"))
    x = torch.cat(out)
    return (x * 255 + 0.5).floor().clamp(0, 255) / 255


# ============================================================================ sync
def load_sync(path: str, device):
    from s3d_nerf.sync_net import SyncNet
    ck = torch.load(path, map_location="cpu")
    net = SyncNet(**ck["hparams"])
    net.load_state_dict(ck["model"])
    size = CONFIGS[ck["config"]]().image_size if ck.get("config") in CONFIGS else SIZE
    return net.to(device).eval(), size, {k: ck.get(k) for k in ("val", "steps", "data", "config")}


@torch.no_grad()
def sync_scores(net, net_size: int, frames: torch.Tensor, clip: EvalClip, device, shift: int = 0) -> List[float]:
    """Cosine per 5-frame window of `frames` (n,3,256,256 aligned with clip.targets)."""
    from s3d_nerf.sync_net import cosine
    n = len(clip.targets)
    if n < SYNC_T:
        return []
    x = resize(frames, net_size).to(device)
    boxes = torch.from_numpy(clip.lip_box[clip.targets] * (net_size / SIZE)).to(device)
    out = []
    for i in range(n - SYNC_T + 1):
        t = clip.targets[i]
        ta = t + shift
        mel = AU.sync_window(clip.mel, ta, AudioConfig())[None].to(device)
        e_l = net.embed_lips(net.lips_from_frames(x[None, i:i + SYNC_T], boxes[None, i:i + SYNC_T]))
        out.append(float(cosine(e_l, net.embed_audio(mel))))
    return out


# ============================================================================ evaluation
ROW_KEYS = ["psnr", "psnr_mask", "ssim", "ssim_mask", "m_lmd", "f_lmd", "m_nme", "f_nme", "sync"]


def frame_metrics(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, lm_pred, st_pred, lm_gt, st_gt) -> Dict:
    ok = (st_pred > 0) & (st_gt > 0)
    iod = inter_ocular(lm_gt)
    m = landmark_distance(lm_pred, lm_gt, MOUTH)
    f = landmark_distance(lm_pred, lm_gt)
    s_full, s_mask = ssim_full_and_masked(pred, gt, mask)
    return {"psnr": psnr(pred, gt).tolist(), "psnr_mask": psnr(pred, gt, mask).tolist(),
            "ssim": s_full.tolist(), "ssim_mask": s_mask.tolist(),
            "m_lmd": m[ok].tolist(), "f_lmd": f[ok].tolist(),
            "m_nme": (100 * m / iod)[ok].tolist(), "f_nme": (100 * f / iod)[ok].tolist(),
            "lm_detected": int((st_pred == 1).sum()), "lm_missing": int((~ok).sum())}


def _u8(x: torch.Tensor) -> np.ndarray:
    return (x * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def evaluate_clip(model, clip: EvalClip, device, sync=None, render_batch: int = 8) -> Dict:
    t0 = time.time()
    gt = to_tensor(clip.crops[clip.targets])
    mask = torch.from_numpy(np.stack([A.fill_mask(clip.mask_poly[t], SIZE) for t in clip.targets]))[:, None]
    t_r = time.time()
    gen = render_clip(model, clip, device, render_batch)
    t_render = time.time() - t_r
    src = to_tensor(clip.crops[clip.source:clip.source + 1])
    seqs = {"model": gen, "copy source frame": src}
    S = model.cfg.image_size
    if S < SIZE:   # the same baseline through the model's resolution: separates blur from motion
        low = resize(resize(src, S), SIZE, "bicubic")
        seqs[f"copy source frame @{S}²"] = (low * 255 + 0.5).floor().clamp(0, 255) / 255
    seqs["ground truth"] = gt
    # landmarks: one tool run per sequence (its tracking is per sequence); a copied frame once
    lm = {}
    for key, frames in seqs.items():
        p, st = landmarks68(_u8(frames))
        lm[key] = (np.repeat(p, len(gt), 0), np.repeat(st, len(gt), 0)) if len(frames) == 1 else (p, st)
    rows = {}
    for key, frames in seqs.items():
        frames = frames.expand_as(gt)
        rows[key] = frame_metrics(frames, gt, mask, *lm[key], *lm["ground truth"])
        if sync is not None:
            rows[key]["sync"] = sync_scores(sync[0], sync[1], frames, clip, device)
    if sync is not None:
        rows["ground truth"]["sync_shifted"] = sync_scores(sync[0], sync[1], gt, clip, device, shift=SYNC_SHIFT)
    return {"clip": clip.name, "source_frame": clip.source, "targets": [clip.targets[0], clip.targets[-1]],
            "n_frames": len(clip.targets), "sources": clip.sources, "rows": rows,
            "render_s_per_frame": t_render / len(clip.targets), "seconds": time.time() - t0,
            "gt_landmarks_detected": int((lm["ground truth"][1] == 1).sum())}


def _mean(v):
    return float(np.mean(v)) if len(v) else float("nan")


def summarise(clips: List[Dict]) -> Dict:
    """Frame-weighted means over all clips (per row and metric)."""
    out = {}
    for row in clips[0]["rows"]:
        agg = {}
        for k in ROW_KEYS + ["sync_shifted"]:
            vals = [v for c in clips for v in c["rows"][row].get(k, [])]
            if vals or k in ROW_KEYS:
                agg[k] = _mean(vals)
        agg["lm_missing"] = sum(c["rows"][row]["lm_missing"] for c in clips)
        out[row] = agg
    return out


def markdown(summary: Dict, n_frames: int, has_sync: bool) -> str:
    cols = [("psnr", "PSNR", 2), ("psnr_mask", "PSNR mask", 2), ("ssim", "SSIM", 4), ("ssim_mask", "SSIM mask", 4),
            ("m_lmd", "M-LMD px", 3), ("f_lmd", "F-LMD px", 3), ("m_nme", "M-NME %", 2), ("f_nme", "F-NME %", 2)]
    if has_sync:
        cols.append(("sync", "Sync cos", 4))
    lines = ["| row | " + " | ".join(c[1] for c in cols) + " |", "|---|" + "---:|" * len(cols)]
    for row, m in summary.items():
        cells = []
        for k, _, d in cols:
            v = m.get(k, float("nan"))
            cells.append("–" if v != v else f"{v:.{d}f}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    s = "\n".join(lines)
    s += f"\n\n{n_frames} target frames; PSNR capped at {PSNR_CAP:g} dB; LMD at 256², NME by inter-ocular distance."
    if has_sync and "sync_shifted" in summary.get("ground truth", {}):
        s += f" Sync of the real frames against audio {SYNC_SHIFT} frames off: {summary['ground truth']['sync_shifted']:.4f}."
    return s


def main(argv=None) -> Dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="exported .safetensors (s3d-nerf v1)")
    ap.add_argument("--manifest", default=str(ROOT / ".cache" / "data" / "manifest.json"))
    ap.add_argument("--clip", action="append", default=None,
                    help="prepared clip name (repeatable; 'all' = every clip; default: the first)")
    ap.add_argument("--video", default=None, help="an mp4 instead of a prepared clip")
    ap.add_argument("--wav", default=None, help="audio for --video (default: the mp4's track)")
    ap.add_argument("--start", type=int, default=None, help="source frame (default: val_start / 0 for --video)")
    ap.add_argument("--frames", type=int, default=0, help="number of target frames per clip (0 = to the end)")
    ap.add_argument("--sync-checkpoint", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=8, help="frames rendered per forward")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the full results (per-frame values too) here")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    t0 = time.time()
    model, prov = export_mod.load(a.model, str(device))
    sync = None
    if a.sync_checkpoint:
        net, size, info = load_sync(a.sync_checkpoint, device)
        sync = (net, size, info)
    if a.video:
        clips = [prepare_video(a.video, a.wav, a.frames, a.start or 0)]
    else:
        names = a.clip or [json.loads(Path(a.manifest).read_text())["clips"][0]["name"]]
        if names == ["all"]:
            names = [e["name"] for e in json.loads(Path(a.manifest).read_text())["clips"]]
        clips = [load_prepared_clip(a.manifest, n, a.frames, a.start) for n in names]
    results = []
    for c in clips:
        r = evaluate_clip(model, c, device, sync, a.batch)
        print(f"[{c.name}] frames {r['targets'][0]}..{r['targets'][1]} from source {c.source}: "
              f"{r['render_s_per_frame'] * 1000:.0f} ms/frame render, {r['seconds']:.1f} s", file=sys.stderr)
        results.append(r)
    summary = summarise(results)
    n = sum(r["n_frames"] for r in results)
    table = markdown(summary, n, sync is not None)
    print(table)
    out = {"model": a.model, "model_config": model.cfg.name, "image_size": model.cfg.image_size,
           "provenance": prov, "sync_checkpoint": a.sync_checkpoint, "sync_info": sync[2] if sync else None,
           "device": str(device), "n_frames": n, "summary": summary, "clips": results, "table": table,
           "seconds": time.time() - t0}
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=1, allow_nan=True))
    return out


if __name__ == "__main__":
    main()
