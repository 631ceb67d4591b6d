"""Talking-clip dataset over the output of train/prepare_data.py (DESIGN §2).

TalkingClipDataset(manifest_path, cfg, split) yields dicts (the trainer's contract):
  source       (3,H,W) float [0,1]  aligned source frame (random frame of the same clip and split)
  source_mask  (1,H,W) float {0,1}  inner-face mask of the source (jaw 0..16 + brows 26..17 polygon)
  pose_src     (4,4)                cam2world of the source (EG3D)
  target       (5,3,H,W)            five consecutive aligned frames t0..t0+4
  pose_tar     (5,4,4)
  mel          (5,n_mels,window_frames)  audio.deform_window for each target frame
  sync_mel     (n_mels,window_frames//2) audio.sync_window at t0
  sync_mel_neg (n_mels,window_frames//2) sync window at a frame >= 5 frames away from t0
  target_mask  (5,1,H,W)            inner-face masks of the targets
  lip_box      (5,4) x0,y0,x1,y1 in crop pixels (of the H x W output)
  plus clip (str), t0 (int), src_t (int) for bookkeeping.

Items are all windows of 5 consecutive frames inside the split ([0, val_start) for
"train", [val_start, n) for "val"). The random choices (source frame, negative
shift) come from a generator seeded with (seed, epoch, index): deterministic for a
given epoch; call set_epoch(e) every epoch for fresh draws. Crops are read
memory-mapped from crops.npy (uint8, aligned by prepare_data); a missing
crops.npy is rebuilt from the source mp4 and the stored similarity transforms.
If cfg.image_size differs from the stored 256, crops, masks and boxes are resized.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import alignment as A
from . import audio as AU

T_WIN = 5
NEG_MIN_SHIFT = 5


def rebuild_crops(clip_dir: Path, mp4: Path) -> None:
    """Decode the source mp4 and warp the selected frames with the stored transforms."""
    import subprocess
    meta = np.load(clip_dir / "meta.npz")
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                      "stream=width,height", "-of", "json", str(mp4)],
                                     check=True, stdout=subprocess.PIPE).stdout)["streams"][0]
    w, h = int(info["width"]), int(info["height"])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(mp4), "-map", "0:v:0", "-fps_mode",
                          "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, stdout=subprocess.PIPE).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    crops = np.stack([A.warp_crop(frames[i], M, A.IMAGE_SIZE) for i, M in zip(meta["src_index"], meta["affine"])])
    tmp = clip_dir / "crops.tmp.npy"
    np.save(tmp, crops)
    tmp.replace(clip_dir / "crops.npy")


class _Clip:
    def __init__(self, root: Path, entry: dict, audio_cfg: Any):
        self.name = entry["name"]
        self.dir = root / entry["dir"]
        m = np.load(self.dir / "meta.npz")
        self.n = int(m["n_frames"])
        self.pose = torch.from_numpy(m["pose"].astype(np.float32))
        self.lip_box = m["lip_box"].astype(np.float32)
        self.mask_poly = m["mask_poly"].astype(np.float32)
        self.mel = torch.from_numpy(np.load(self.dir / "mel.npy"))
        self.mp4 = Path(entry["sources"]["mp4"])
        self._crops = None
        self.splits = entry["splits"]

    @property
    def crops(self) -> np.ndarray:
        if self._crops is None:
            if not (self.dir / "crops.npy").exists():
                rebuild_crops(self.dir, self.mp4)
            self._crops = np.load(self.dir / "crops.npy", mmap_mode="r")
        return self._crops


class TalkingClipDataset(torch.utils.data.Dataset):
    def __init__(self, manifest_path: str | Path, cfg: Any, split: str = "train", seed: int = 0,
                 clips: list[str] | None = None, exclude: list[str] | None = None):
        if split not in ("train", "val"):
            raise ValueError(f"Expected split 'train' or 'val' but received {split!r}")
        manifest_path = Path(manifest_path)
        man = json.loads(manifest_path.read_text())
        self.root = manifest_path.parent
        self.size = int(getattr(cfg, "image_size", A.IMAGE_SIZE))
        self.acfg = getattr(cfg, "audio", None)
        self.split, self.seed, self.epoch = split, int(seed), 0
        # exclude: substrings of clip names never read (held-out identities)
        self.clips = [_Clip(self.root, e, self.acfg) for e in man["clips"]
                      if (clips is None or e["name"] in clips) and not any(x in e["name"] for x in exclude or [])]
        self.items: list[tuple[int, int]] = []
        for ci, c in enumerate(self.clips):
            lo, hi = c.splits[split]
            self.items += [(ci, t) for t in range(lo, hi - T_WIN + 1)]
        self._masks: dict = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def _img(self, c: _Clip, t) -> torch.Tensor:
        x = torch.from_numpy(np.array(c.crops[t])).float().div_(255.0)   # (...,H,W,3)
        x = x.movedim(-1, -3)
        if self.size != A.IMAGE_SIZE:
            x = F.interpolate(x.reshape(-1, *x.shape[-3:]), size=(self.size, self.size), mode="bilinear",
                              align_corners=False, antialias=True).reshape(*x.shape[:-2], self.size, self.size)
        return x

    def _mask(self, c: _Clip, t: int) -> torch.Tensor:
        poly = c.mask_poly[t] * (self.size / A.IMAGE_SIZE)
        return torch.from_numpy(A.fill_mask(poly, self.size))[None]

    def __getitem__(self, i: int) -> dict:
        ci, t0 = self.items[i]
        c = self.clips[ci]
        lo, hi = c.splits[self.split]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        src_t = int(rng.integers(lo, hi))
        # negative sync window: a frame >= NEG_MIN_SHIFT away, inside the split when possible
        cand = np.array([t for t in range(lo, hi) if abs(t - t0) >= NEG_MIN_SHIFT])
        if len(cand) == 0:
            cand = np.array([t for t in range(c.n) if abs(t - t0) >= NEG_MIN_SHIFT])
        neg_t = int(cand[rng.integers(len(cand))])
        ts = list(range(t0, t0 + T_WIN))
        s = self.size / A.IMAGE_SIZE
        return {
            "source": self._img(c, src_t),
            "source_mask": self._mask(c, src_t),
            "pose_src": c.pose[src_t].clone(),
            "target": self._img(c, slice(t0, t0 + T_WIN)),
            "target_mask": torch.stack([self._mask(c, t) for t in ts]),
            "pose_tar": c.pose[t0:t0 + T_WIN].clone(),
            "mel": torch.stack([AU.deform_window(c.mel, t, self.acfg) for t in ts]),
            "sync_mel": AU.sync_window(c.mel, t0, self.acfg),
            "sync_mel_neg": AU.sync_window(c.mel, neg_t, self.acfg),
            "lip_box": torch.from_numpy(c.lip_box[t0:t0 + T_WIN] * s),
            "clip": c.name, "t0": t0, "src_t": src_t, "neg_t": neg_t,
        }
