"""Procedural talking faces for smoke tests (no real data needed).

Each sample index deterministically builds one short "clip": a background, a
coloured face ellipse with two eyes and a dark mouth ellipse whose opening
follows the energy envelope of a synthetic voiced signal (harmonics + noise
shaped by random syllable bumps). Because the mouth opening of frame t is the
mean envelope over that frame's audio span [t/fps, (t+1)/fps), lip sync is
learnable from the log-mel windows of audio.py.

Sample format (the contract shared with dataset.TalkingClipDataset; batch dim
added by the DataLoader):

  source        (3,H,W)        float [0,1], full source frame
  source_mask   (1,H,W)        inner-face mask of the source
  pose_src      (4,4)          cam2world of the source
  target        (5,3,H,W)      five consecutive target frames of the same clip
  pose_tar      (5,4,4)
  mel           (5,n_mels,W)   deformation windows (audio.deform_window) of those frames
  sync_mel      (n_mels,W/2)   lip-sync window (audio.sync_window) at the first target frame
  sync_mel_neg  (n_mels,W/2)   out-of-sync window (>= 5 frames away, same clip)
  lip_box       (5,4)          pixel box (x0,y0,x1,y1) around the lips, per target frame
  target_mask   (5,1,H,W)      OPTIONAL inner-face mask of each target (coarse loss is masked when present)

Poses are all the frontal camera: the faces are flat 2-D drawings, so a pose
change would have no consistent 3-D meaning here.
"""
from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset

from . import audio
from .camera import frontal_pose

N_TARGET = 5
CLIP_FRAMES = 24
SYNC_SHIFT = 5  # minimum offset (frames) of the negative sync window


def _envelope(n_samples: int, sr: int, g: torch.Generator) -> torch.Tensor:
    """Syllable-like envelope in [0,1]: gaussian bumps with silences between."""
    t = torch.arange(n_samples, dtype=torch.float32) / sr
    dur = n_samples / sr
    env = torch.zeros(n_samples)
    pos = float(torch.rand(1, generator=g)) * 0.15
    while pos < dur:
        width = 0.03 + 0.05 * float(torch.rand(1, generator=g))
        amp = 0.3 + 0.7 * float(torch.rand(1, generator=g))
        env = env + amp * torch.exp(-0.5 * ((t - pos - 2 * width) / width) ** 2)
        pos += 4 * width + 0.2 * float(torch.rand(1, generator=g))  # gap (silence) between syllables
    return env.clamp(0, 1)


def _signal(env: torch.Tensor, sr: int, g: torch.Generator) -> torch.Tensor:
    t = torch.arange(env.numel(), dtype=torch.float32) / sr
    f0 = 110 + 120 * float(torch.rand(1, generator=g))
    voiced = sum(math.exp(-0.3 * k) * torch.sin(2 * math.pi * f0 * (k + 1) * t + float(torch.rand(1, generator=g)) * 6.28)
                 for k in range(8))
    noise = torch.randn(env.numel(), generator=g) * 0.3
    return (0.25 * env * (voiced + noise) + 1e-3 * torch.randn(env.numel(), generator=g)).float()


def _ellipse(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> torch.Tensor:
    """Anti-aliased filled ellipse (h,w) in [0,1]; centre/radii in pixels."""
    y = torch.arange(h, dtype=torch.float32)[:, None] + 0.5
    x = torch.arange(w, dtype=torch.float32)[None, :] + 0.5
    d = torch.sqrt(((x - cx) / max(rx, 1e-3)) ** 2 + ((y - cy) / max(ry, 1e-3)) ** 2)
    edge = 1.0 / max(min(rx, ry), 1e-3)  # ~1 pixel soft edge
    return ((1 - d) / edge + 0.5).clamp(0, 1)


class SyntheticTalkingDataset(Dataset):
    def __init__(self, cfg, n: int, seed: int = 0, clip_frames: int = CLIP_FRAMES):
        self.cfg = cfg
        self.n = int(n)
        self.seed = int(seed)
        self.clip_frames = clip_frames
        assert clip_frames >= N_TARGET + SYNC_SHIFT + 2

    def __len__(self) -> int:
        return self.n

    def _face(self, g: torch.Generator):
        s = self.cfg.image_size
        r = lambda: float(torch.rand(1, generator=g))  # noqa: E731
        return dict(bg=torch.rand(3, generator=g) * 0.5, skin=0.45 + 0.5 * torch.rand(3, generator=g),
                    lip=torch.tensor([0.35 + 0.3 * r(), 0.05 + 0.1 * r(), 0.05 + 0.1 * r()]),
                    cx=s * (0.5 + 0.04 * (r() - 0.5)), cy=s * (0.5 + 0.04 * (r() - 0.5)),
                    rx=s * (0.28 + 0.06 * r()), ry=s * (0.36 + 0.05 * r()),
                    mw=s * (0.09 + 0.03 * r()), mh=s * 0.07)

    def _draw(self, f, opening: float):
        s = self.cfg.image_size
        img = f["bg"][:, None, None].expand(3, s, s).clone()
        face = _ellipse(s, s, f["cx"], f["cy"], f["rx"], f["ry"])
        img = img * (1 - face) + f["skin"][:, None, None] * face
        for ex in (-1, 1):
            eye = _ellipse(s, s, f["cx"] + ex * 0.4 * f["rx"], f["cy"] - 0.25 * f["ry"], 0.14 * f["rx"], 0.07 * f["ry"])
            img = img * (1 - eye) + 0.1 * eye
        my = f["cy"] + 0.5 * f["ry"]
        lips = _ellipse(s, s, f["cx"], my, f["mw"], 0.025 * s + 0.5 * f["mh"] * opening)
        img = img * (1 - lips) + f["lip"][:, None, None] * lips
        inner = _ellipse(s, s, f["cx"], my, 0.8 * f["mw"], max(0.6 * f["mh"] * opening, 0.15))
        img = img * (1 - inner) + 0.05 * inner
        mask = _ellipse(s, s, f["cx"], f["cy"] + 0.05 * f["ry"], 0.85 * f["rx"], 0.85 * f["ry"])
        # lip box: fixed per clip, aspect 1:2 (h:w) around the maximum mouth extent
        hw, hh = 1.6 * f["mw"], 0.8 * f["mw"]
        box = torch.tensor([f["cx"] - hw, my - hh, f["cx"] + hw, my + hh])
        return img.clamp(0, 1), mask[None], box

    def __getitem__(self, idx: int):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + int(idx))
        ac = self.cfg.audio
        n_samples = self.clip_frames * ac.sample_rate // ac.fps
        env = _envelope(n_samples, ac.sample_rate, g)
        wav = _signal(env, ac.sample_rate, g)
        logmel = audio.log_mel(wav, ac)
        spf = ac.sample_rate // ac.fps
        opening = env[: self.clip_frames * spf].reshape(self.clip_frames, spf).mean(1)
        face = self._face(g)

        t0 = int(torch.randint(0, self.clip_frames - N_TARGET + 1, (1,), generator=g))
        ts = int(torch.randint(0, self.clip_frames, (1,), generator=g))
        far = [t for t in range(self.clip_frames - N_TARGET + 1) if abs(t - t0) >= SYNC_SHIFT]
        tn = far[int(torch.randint(0, len(far), (1,), generator=g))]

        src, src_mask, _ = self._draw(face, float(opening[ts]))
        tgt, masks, boxes = zip(*[self._draw(face, float(opening[t])) for t in range(t0, t0 + N_TARGET)])
        pose = frontal_pose(self.cfg.cam_radius)
        return {
            "source": src, "source_mask": src_mask, "pose_src": pose,
            "target": torch.stack(tgt), "target_mask": torch.stack(masks),
            "pose_tar": pose.expand(N_TARGET, 4, 4).clone(),
            "mel": torch.stack([audio.deform_window(logmel, t, ac) for t in range(t0, t0 + N_TARGET)]),
            "sync_mel": audio.sync_window(logmel, t0, ac),
            "sync_mel_neg": audio.sync_window(logmel, tn, ac),
            "lip_box": torch.stack(boxes),
        }
