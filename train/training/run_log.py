"""Run logs: the CSV step and validation logs, sample PNGs, and the code version.

Only rank 0 writes them. Float values are written with 6 significant digits.
"""
from __future__ import annotations

import csv
import os
import struct
import subprocess
import zlib
from typing import Dict, List, Optional

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

# val.csv: held-out validation (s3d_nerf/holdout.py); log.csv: one row per generator step
VAL_COLUMNS = ["step", "wall_s", "psnr", "psnr_mouth", "psnr_coarse", "copy_psnr", "copy_psnr_mouth", "n"]
LOG_COLUMNS = ["step", "wall_s", "stage", "lr", "total", "pix_coarse", "pix_fine", "msssim_coarse", "msssim_fine",
               "perceptual", "feat_match", "adv", "sync", "delta", "d_loss", "d_real", "d_fake", "r1"]


def write_png(path: str, img: torch.Tensor) -> None:
    """img (3,H,W) float [0,1] -> 8-bit RGB PNG (zlib, no dependencies)."""
    a = (img.detach().float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).contiguous().cpu()
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + bytes(a[y].reshape(-1).tolist()) for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


class CsvLog:
    """A CSV file with fixed columns; on resume, rows past the checkpoint step are dropped."""

    def __init__(self, path: str, columns: List[str], resume_step: Optional[int]):
        self.path, self.columns = path, columns
        if resume_step is not None and os.path.exists(path):  # drop rows past the checkpoint
            with open(path) as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
            self._rewrite(rows)
        elif resume_step is None or not os.path.exists(path):
            self._rewrite([])

    def _rewrite(self, rows):
        with open(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, self.columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    def write(self, row: Dict):
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.columns, extrasaction="ignore").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def git_commit() -> Optional[str]:
    """HEAD of the repository holding this file (for export provenance), or None."""
    try:
        return subprocess.check_output(["git", "-C", HERE, "rev-parse", "HEAD"], text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except Exception:
        return None
