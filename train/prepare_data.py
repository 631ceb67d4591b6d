#!/usr/bin/python3
"""Training-data preparation (DESIGN §2): ../shared/data/train/*.mp4 -> .cache/data/.

Per clip (written to <out>/clips/<name>/, never committed, see shared/data/README):
  meta.npz    per 25-fps frame t: src_index/src_time (source frame nearest to t/25 s,
              by timestamp, so variable-rate clips are handled), lm_raw (68,2) dlib
              landmarks in source pixels, lm_status (1 detected, 2 tracked from the
              previous frame, 3 interpolated), affine (2,3) smoothed image->crop
              similarity, lm (68,2) smoothed landmarks in crop pixels, mask_poly (27,2),
              lip_box (4,) x0,y0,x1,y1, pose (4,4) cam2world (EG3D), val_start.
  crops.npy   (N,256,256,3) uint8 aligned crops (warped with `affine`).
  audio16k.npy float32 mono 16 kHz (audio.resample_to), mel.npy (n_mels, T) (audio.log_mel).
  done.json   source hashes + tool versions + counts; written last (resumability key).
<out>/manifest.json lists every finished clip.

Landmarks: tools/landmarks68 (dlib HOG detector + 68-point predictor, C++; built by
tools/landmarks68/build.sh on first use). Alignment/pose: train/s3d_nerf/alignment.py.

usage: /usr/bin/python3 train/prepare_data.py [--src DIR] [--out DIR] [--clips SUBSTR ...] [--force]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3d_nerf import alignment as A  # noqa: E402
from s3d_nerf import audio as AU  # noqa: E402
from s3d_nerf.config import AudioConfig  # noqa: E402

VERSION = 1                 # bump when outputs change meaning
FPS = 25
SIZE = A.IMAGE_SIZE
VAL_FRACTION = 0.15
LM_SIGMA = 0.7              # temporal Gaussian on raw landmarks (frames): removes dlib's 1-px quantisation jitter
AFFINE_SIGMA = 2.0          # temporal Gaussian on the crop similarity (frames)
POSE_SIGMA = 1.5            # temporal Gaussian on the pose rotation (frames)
LM_TOOL = ROOT / "tools" / "landmarks68" / "landmarks68"
DLIB_MODEL = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"


def log(msg: str) -> None:
    print(msg, flush=True)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run(cmd, **kw) -> bytes:
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw).stdout


def _cmd_version(cmd) -> str:
    try:
        return run(cmd).decode(errors="replace").splitlines()[0].strip()
    except Exception as e:  # pragma: no cover
        return f"unavailable ({e})"


def _dpkg(pkg: str) -> str:
    return _cmd_version(["dpkg-query", "-W", "-f=${Version}", pkg])


def tool_versions() -> dict:
    import cv2
    import torch
    import torchaudio
    return {
        "ffmpeg": _cmd_version(["ffmpeg", "-version"]),
        "dlib": _dpkg("libdlib-dev"),
        "dlib_model_sha256": sha256(Path(DLIB_MODEL)),
        "landmarks68_sha256": sha256(LM_TOOL.with_suffix(".cpp")),
        "opencv": cv2.__version__, "numpy": np.__version__,
        "torch": torch.__version__, "torchaudio": torchaudio.__version__,
        "prepare_data_version": VERSION,
    }


def ensure_tool() -> None:
    if not LM_TOOL.exists() or LM_TOOL.stat().st_mtime < LM_TOOL.with_suffix(".cpp").stat().st_mtime:
        log("building tools/landmarks68 ...")
        subprocess.run([str(LM_TOOL.parent / "build.sh")], check=True)


# ---------------------------------------------------------------- video

def probe(path: Path) -> dict:
    out = json.loads(run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)]))
    return out


def video_timestamps(path: Path) -> np.ndarray:
    """Presentation times (s) of every decoded video frame, in output order."""
    txt = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
               "frame=best_effort_timestamp_time", "-of", "csv=p=0", str(path)]).decode()
    ts = np.array([float(x.strip().rstrip(",")) for x in txt.split() if x.strip().rstrip(",") not in ("", "N/A")])
    if np.any(np.diff(ts) <= 0):
        raise RuntimeError(f"{path.name}: non-increasing frame timestamps")
    return ts


def decode_frames(path: Path, w: int, h: int) -> np.ndarray:
    raw = run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:v:0", "-fps_mode", "passthrough",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    n = len(raw) // (w * h * 3)
    return np.frombuffer(raw, np.uint8)[: n * w * h * 3].reshape(n, h, w, 3)


def select_frames(ts: np.ndarray, n: int) -> np.ndarray:
    """Index of the source frame nearest to t/25 s (relative to the first frame) for t < n."""
    target = ts[0] + np.arange(n) / FPS
    j = np.searchsorted(ts, target).clip(1, len(ts) - 1)
    left = ts[j - 1]; right = ts[j]
    return np.where(np.abs(target - left) <= np.abs(right - target), j - 1, j)


def run_landmarks(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    n, h, w, _ = frames.shape
    t0 = time.time()
    out = subprocess.run([str(LM_TOOL), str(w), str(h), DLIB_MODEL], input=frames.tobytes(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout.decode()
    dt = time.time() - t0
    rows = np.array([[float(v) for v in line.split()] for line in out.splitlines()], np.float64)
    if rows.shape != (n, 138):
        raise RuntimeError(f"landmarks68 returned {rows.shape} for {n} frames")
    return rows[:, 2:].reshape(n, 68, 2), rows[:, 0].astype(np.int8), dt


def fill_missing(lm: np.ndarray, status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = status > 0
    if not ok.any():
        raise RuntimeError("no face found in any frame")
    if ok.all():
        return lm, status
    idx = np.arange(len(lm)); good = idx[ok]
    flat = lm.reshape(len(lm), -1).copy()
    for k in range(flat.shape[1]):
        flat[~ok, k] = np.interp(idx[~ok], good, flat[ok, k])
    status = status.copy(); status[~ok] = 3
    return flat.reshape(lm.shape), status


def gsmooth(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d
    return gaussian_filter1d(x, sigma, axis=0, mode="nearest") if sigma > 0 and len(x) > 1 else x


# ---------------------------------------------------------------- audio

def decode_audio(path: Path) -> tuple[np.ndarray, int, float]:
    """Mono float32 (channel mean), native rate, stream start time."""
    st = [s for s in probe(path)["streams"] if s["codec_type"] == "audio"]
    if not st:
        raise RuntimeError(f"{path.name}: no audio stream")
    s = st[0]
    sr, ch = int(s["sample_rate"]), int(s["channels"])
    start = float(s.get("start_time", 0.0) or 0.0)
    raw = run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0", "-f", "f32le",
               "-acodec", "pcm_f32le", "-"])
    x = np.frombuffer(raw, np.float32)
    x = x[: len(x) // ch * ch].reshape(-1, ch).mean(1)
    return x.astype(np.float32), sr, start


# ---------------------------------------------------------------- clip

def clip_sources(mp4: Path) -> dict:
    src = {"mp4": mp4}
    wav = mp4.with_suffix(".wav")
    if wav.exists():
        src["wav"] = wav
    return src


def is_done(cdir: Path, hashes: dict) -> bool:
    f = cdir / "done.json"
    if not f.exists():
        return False
    try:
        d = json.loads(f.read_text())
    except Exception:
        return False
    need = ["meta.npz", "crops.npy", "audio16k.npy", "mel.npy"]
    return (d.get("version") == VERSION and d.get("sources_sha256") == hashes
            and all((cdir / n).exists() for n in need))


def prepare_clip(mp4: Path, out: Path, versions: dict, force: bool = False) -> dict:
    name = mp4.stem
    cdir = out / "clips" / name
    src = clip_sources(mp4)
    hashes = {k: sha256(p) for k, p in src.items()}
    if not force and is_done(cdir, hashes):
        log(f"[{name}] up to date, skipped")
        return json.loads((cdir / "done.json").read_text())
    cdir.mkdir(parents=True, exist_ok=True)
    (cdir / "done.json").unlink(missing_ok=True)
    t_clip = time.time()

    vst = [s for s in probe(mp4)["streams"] if s["codec_type"] == "video"][0]
    w, h = int(vst["width"]), int(vst["height"])
    ts = video_timestamps(mp4)
    frames = decode_frames(mp4, w, h)
    if len(frames) != len(ts):
        log(f"[{name}] warning: {len(frames)} decoded frames vs {len(ts)} packets; using the first {min(len(frames), len(ts))}")
        k = min(len(frames), len(ts)); frames, ts = frames[:k], ts[:k]
    dts = np.diff(ts)
    src_fps = float(1.0 / np.median(dts)) if len(dts) else float(FPS)
    v_dur = ts[-1] - ts[0] + (np.median(dts) if len(dts) else 1.0 / FPS)
    n_video = int(math.floor(v_dur * FPS + 1e-6))

    # audio: the same-named .wav when present (StyleTalk), else the mp4's track
    if "wav" in src:
        x, sr, a_start = decode_audio(src["wav"]); offset = 0.0
    else:
        x, sr, a_start = decode_audio(mp4); offset = a_start - ts[0]
    x16 = AU.resample_to(x, sr, 16000).numpy()
    if abs(offset) > 1e-4:   # align audio time 0 with the first video frame
        k = int(round(abs(offset) * 16000))
        x16 = np.concatenate([np.zeros(k, np.float32), x16]) if offset > 0 else x16[k:]
    n_audio = AU.frame_count(len(x16))
    n = min(n_video, n_audio)
    x16 = x16[: int(math.ceil(n * 16000 / FPS))] if n_audio > n else x16
    mel = AU.log_mel(x16, AudioConfig()).numpy()

    sel = select_frames(ts, n)
    f25 = np.ascontiguousarray(frames[sel])
    del frames
    lm_raw, status, t_lm = run_landmarks(f25)
    n_det, n_trk, n_miss = int((status == 1).sum()), int((status == 2).sum()), int((status == 0).sum())
    lm_raw, status = fill_missing(lm_raw, status)
    lm_s = gsmooth(lm_raw, LM_SIGMA)
    aff = np.stack([A.align_matrix(p, SIZE) for p in lm_s])
    aff = A.matrix_from_params(gsmooth(A.params_from_matrix(aff), AFFINE_SIGMA))
    lm_c = np.stack([A.apply(M, p) for M, p in zip(aff, lm_s)])
    pose = np.stack([A.estimate_pose(p, SIZE) for p in lm_c])
    pose = A.smooth_rotations(pose, POSE_SIGMA)
    mask_poly = np.stack([A.mask_polygon(p) for p in lm_c])
    lip = np.stack([A.lip_box(p, size=SIZE) for p in lm_c])
    crops = np.stack([A.warp_crop(f, M, SIZE) for f, M in zip(f25, aff)])
    val_start = int(round(n * (1 - VAL_FRACTION)))

    np.save(cdir / "crops.npy", crops)
    np.save(cdir / "audio16k.npy", x16.astype(np.float32))
    np.save(cdir / "mel.npy", mel.astype(np.float32))
    np.savez(cdir / "meta.npz", src_index=sel.astype(np.int32), src_time=(ts[sel] - ts[0]).astype(np.float64),
             lm_raw=lm_raw.astype(np.float32), lm_status=status, affine=aff.astype(np.float64),
             lm=lm_c.astype(np.float32), mask_poly=mask_poly.astype(np.float32), lip_box=lip.astype(np.float32),
             pose=pose.astype(np.float32), val_start=np.int32(val_start), n_frames=np.int32(n))
    scale = np.hypot(aff[:, 0, 0], aff[:, 1, 0])
    yaw_pitch = np.degrees(np.stack([np.arctan2(-pose[:, 0, 2], -pose[:, 2, 2]), np.arcsin(np.clip(pose[:, 1, 2], -1, 1))], 1))
    done = {
        "version": VERSION, "name": name, "dir": f"clips/{name}",
        "sources": {k: str(p) for k, p in src.items()}, "sources_sha256": hashes,
        "audio_source": "wav" if "wav" in src else "mp4", "audio_rate_in": sr, "audio_offset_s": round(offset, 6),
        "src_size": [w, h], "src_frames": int(len(ts)), "src_fps": round(src_fps, 4),
        "variable_rate": bool(len(dts) and (dts.max() - dts.min()) > 0.25 * np.median(dts)),
        "n_video_25fps": n_video, "n_audio_25fps": n_audio, "n_frames": n, "fps": FPS,
        "n_samples_16k": int(len(x16)), "mel_frames": int(mel.shape[1]),
        "splits": {"train": [0, val_start], "val": [val_start, n]},
        "landmarks": {"detected": n_det, "tracked": n_trk, "interpolated": n_miss,
                      "seconds": round(t_lm, 3), "seconds_per_frame": round(t_lm / max(n, 1), 4)},
        "crop_scale_median": round(float(np.median(scale)), 4),
        "yaw_deg_range": [round(float(yaw_pitch[:, 0].min()), 2), round(float(yaw_pitch[:, 0].max()), 2)],
        "pitch_deg_range": [round(float(yaw_pitch[:, 1].min()), 2), round(float(yaw_pitch[:, 1].max()), 2)],
        "tools": versions,
    }
    (cdir / "done.json").write_text(json.dumps(done, indent=1, sort_keys=True))
    log(f"[{name}] {n} frames @25 (src {len(ts)} @ {src_fps:.2f}{' VFR' if done['variable_rate'] else ''}, "
        f"audio {n_audio}), landmarks {t_lm / n * 1000:.1f} ms/frame, det {n_det} trk {n_trk} miss {n_miss}, "
        f"val from {val_start}, {time.time() - t_clip:.1f} s")
    return done


def write_manifest(out: Path, entries: list, failures: dict) -> Path:
    man = {
        "version": VERSION, "fps": FPS, "image_size": SIZE,
        "template": {"eye_mid": [A.EYE_X, A.EYE_Y], "iod": A.IOD, "module": "train/s3d_nerf/alignment.py"},
        "val_fraction": VAL_FRACTION,
        "clips": sorted(entries, key=lambda e: e["name"]),
        "total_frames": int(sum(e["n_frames"] for e in entries)),
        "failures": failures,
    }
    p = out / "manifest.json"
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(man, indent=1, sort_keys=True))
    os.replace(tmp, p)
    return p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=str(ROOT.parent / "shared" / "data" / "train"))
    ap.add_argument("--out", default=str(ROOT / ".cache" / "data"))
    ap.add_argument("--clips", nargs="*", default=None, help="only clips whose name contains one of these")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args(argv)
    src, out = Path(a.src), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ensure_tool()
    mp4s = sorted(src.glob("*.mp4"))
    if a.clips:
        mp4s = [p for p in mp4s if any(c in p.stem for c in a.clips)]
    versions = tool_versions()
    entries, failures = [], {}
    # keep finished clips from earlier runs with other --clips selections in the manifest
    for d in sorted((out / "clips").glob("*/done.json")) if (out / "clips").exists() else []:
        e = json.loads(d.read_text())
        if e.get("version") == VERSION and e["name"] not in {p.stem for p in mp4s}:
            entries.append(e)
    for i, p in enumerate(mp4s):
        log(f"({i + 1}/{len(mp4s)}) {p.name}")
        try:
            entries.append(prepare_clip(p, out, versions, a.force))
        except Exception as e:  # keep going; report
            failures[p.stem] = f"{type(e).__name__}: {e}"
            log(f"[{p.stem}] FAILED: {failures[p.stem]}")
    m = write_manifest(out, entries, failures)
    log(f"manifest: {m} ({len(entries)} clips, {sum(e['n_frames'] for e in entries)} frames, {len(failures)} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
