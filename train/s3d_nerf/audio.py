"""Audio front end, PyTorch reference (DESIGN §3.5).

This is the contract the C++ engine (cpp/audio/) reproduces to ~1e-5 relative:

- resample to 16 kHz with torchaudio.functional.resample defaults
  (sinc_interp_hann, lowpass_filter_width=6, rolloff=0.99);
- log-mel: torchaudio MelSpectrogram (n_fft 800, hop 200, periodic Hann,
  center/reflect, |X| (power 1), slaney mel scale and norm, 55-7600 Hz, 80 bins)
  then log(clamp(mel, min=log_floor)); signals shorter than n_fft//2+1 samples
  are zero-padded at the end first (reflect padding needs it);
- 25 video frames/s, frame_count = ceil(n16k * fps / sample_rate);
- deformation window for video frame t: window_frames mel columns centred on
  the rounded centre of the frame's audio span [t/fps, (t+1)/fps); columns
  outside the track read log(log_floor).

cfg is any object with the attributes of config.AudioConfig: kind,
sample_rate, n_fft, hop, n_mels, f_min, f_max, log_floor, window_frames, fps
(a plain dict with those keys is accepted too).
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import torch
import torchaudio

DEFAULT = SimpleNamespace(kind="logmel", sample_rate=16000, n_fft=800, hop=200, n_mels=80,
                          f_min=55.0, f_max=7600.0, log_floor=1e-5, window_frames=32, fps=25)

MIN_RATE, MAX_RATE = 8000, 192000


def _cfg(cfg: Any) -> Any:
    if cfg is None:
        return DEFAULT
    if isinstance(cfg, dict):
        return SimpleNamespace(**{**vars(DEFAULT), **cfg})
    return cfg


def _as_tensor(x: Any) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float32)
    if t.dim() != 1:
        raise ValueError(f"Expected mono audio (1-D) but received shape {tuple(t.shape)}")
    return t


def resample_to(x: Any, sr: int, target: int = 16000) -> torch.Tensor:
    """Mono float32 samples at rate sr -> rate target (torchaudio defaults)."""
    x = _as_tensor(x)
    if x.numel() == 0:
        raise ValueError("Expected non-empty audio but received 0 samples")
    if int(sr) != sr or not (MIN_RATE <= sr <= MAX_RATE):
        raise ValueError(f"Expected a sample rate in [{MIN_RATE}, {MAX_RATE}] Hz but received {sr}")
    if int(sr) == int(target):
        return x.clone()
    return torchaudio.functional.resample(x, int(sr), int(target))


_MEL_CACHE: dict = {}


def _mel_transform(c: Any) -> torchaudio.transforms.MelSpectrogram:
    key = (c.sample_rate, c.n_fft, c.hop, c.n_mels, float(c.f_min), float(c.f_max))
    m = _MEL_CACHE.get(key)
    if m is None:
        m = torchaudio.transforms.MelSpectrogram(
            sample_rate=c.sample_rate, n_fft=c.n_fft, win_length=c.n_fft, hop_length=c.hop,
            f_min=float(c.f_min), f_max=float(c.f_max), n_mels=c.n_mels,
            window_fn=torch.hann_window, power=1.0, center=True, pad_mode="reflect",
            norm="slaney", mel_scale="slaney")
        _MEL_CACHE[key] = m
    return m


def padded_length(n16k: int, cfg: Any = None) -> int:
    """Length the log-mel is computed on (zero-padded so reflect padding works)."""
    c = _cfg(cfg)
    return max(int(n16k), c.n_fft // 2 + 1)


def mel_frames(n16k: int, cfg: Any = None) -> int:
    c = _cfg(cfg)
    return 1 + padded_length(n16k, c) // c.hop


def log_mel(x16k: Any, cfg: Any = None) -> torch.Tensor:
    """(n_mels, T) float32 log-mel of a 16 kHz signal, T = 1 + max(n, n_fft//2+1) // hop."""
    c = _cfg(cfg)
    if getattr(c, "kind", "logmel") != "logmel":
        raise ValueError(f"Expected audio front end kind 'logmel' but received {c.kind!r}")
    x = _as_tensor(x16k)
    if x.numel() == 0:
        raise ValueError("Expected non-empty audio but received 0 samples")
    n = padded_length(x.numel(), c)
    if n > x.numel():
        x = torch.nn.functional.pad(x, (0, n - x.numel()))
    with torch.no_grad():
        mel = _mel_transform(c)(x)
    return torch.log(torch.clamp(mel, min=c.log_floor))


def frame_count(n16k: int, cfg: Any = None) -> int:
    """Video frames covering n16k samples: ceil(n16k * fps / sample_rate)."""
    c = _cfg(cfg)
    return (int(n16k) * c.fps + c.sample_rate - 1) // c.sample_rate


def deform_start(t: int, cfg: Any = None) -> int:
    """First mel column of the deformation window of video frame t.

    Centre of the frame's span in mel columns is (t + 1/2) * sr / (fps * hop);
    round it (floor(x + 1/2)) and step back half a window. Integer arithmetic;
    for the default config this is floor((32 t + 21) / 10) - 16.
    """
    c = _cfg(cfg)
    fh = c.fps * c.hop
    return ((2 * t + 1) * c.sample_rate + fh) // (2 * fh) - c.window_frames // 2


def sync_start(t: int, cfg: Any = None) -> int:
    """First mel column of the lip-sync window of video frame t: floor(t * sr / (fps * hop))."""
    c = _cfg(cfg)
    return (t * c.sample_rate) // (c.fps * c.hop)


def _window(logmel: torch.Tensor, start: int, width: int, floor: float) -> torch.Tensor:
    n_mels, T = logmel.shape
    out = torch.full((n_mels, width), math.log(floor), dtype=logmel.dtype)
    lo, hi = max(start, 0), min(start + width, T)
    if hi > lo:
        out[:, lo - start:hi - start] = logmel[:, lo:hi]
    return out


def deform_window(logmel: torch.Tensor, t: int, cfg: Any = None) -> torch.Tensor:
    """(n_mels, window_frames) deformation-net input for video frame t."""
    c = _cfg(cfg)
    return _window(logmel, deform_start(t, c), c.window_frames, c.log_floor)


def sync_window(logmel: torch.Tensor, t: int, cfg: Any = None, frames: int | None = None) -> torch.Tensor:
    """(n_mels, window_frames // 2) lip-sync window for video frame t (training only)."""
    c = _cfg(cfg)
    width = frames if frames is not None else c.window_frames // 2
    return _window(logmel, sync_start(t, c), width, c.log_floor)
