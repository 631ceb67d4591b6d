#!/usr/bin/python3
"""Ends a training session (issue 10): exports a run's checkpoint to the shipped model
file and appends the run's logs to the committed training history.

  /usr/bin/python3 train/export_run.py --run .cache/runs/s3d64 [--ckpt latest.pt]
      [--out weights/s3d-64.safetensors] [--logs train/logs]

- <out>: fp16 safetensors (what the engine loads; ~8 MB for s3d-64) whose provenance
  carries the total step count, the total wall time and one entry per session, so the
  next session continues with `train.py --init-from <out>` (Adam re-warmed: optimiser
  state is not committed, to keep the repository lean).
- <logs>/<config>.train.csv: the per-step log averaged over --bin steps (keeps the
  committed history small), appended after the last committed step.
- <logs>/<config>.val.csv: the held-out validation rows, appended likewise.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from s3d_nerf import export as export_mod  # noqa: E402
from s3d_nerf import safetensors_io  # noqa: E402
from s3d_nerf.config import ModelConfig  # noqa: E402
from s3d_nerf.model import S3DNeRF  # noqa: E402


def last_step(path: str) -> int:
    if not os.path.exists(path):
        return -1
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return int(float(rows[-1]["step"])) if rows else -1


def append_rows(path: str, columns, rows) -> int:
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, columns, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerows(rows)
    return len(rows)


def binned(rows, bin_steps: int):
    """Mean of every numeric column over consecutive bins of bin_steps steps; a bin is
    labelled with its last step and its last wall time."""
    out, cur = [], []
    for r in rows:
        cur.append(r)
        if int(r["step"]) % bin_steps == 0:
            out.append(_mean(cur))
            cur = []
    return out  # a trailing partial bin is left for the next export (it ends on a checkpoint anyway)


def _mean(rows):
    m = {"step": rows[-1]["step"], "wall_s": rows[-1]["wall_s"], "stage": rows[-1].get("stage", "")}
    for k in rows[-1]:
        if k in m:
            continue
        vals = [float(r[k]) for r in rows if r.get(k) not in (None, "")]
        m[k] = f"{sum(vals) / len(vals):.6g}" if vals else ""
    return m


def git_commit():
    try:
        return subprocess.check_output(["git", "-C", HERE, "rev-parse", "HEAD"], text=True).strip()
    except Exception:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run directory of train.py (--out)")
    ap.add_argument("--ckpt", default="latest.pt")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "weights", "s3d-64.safetensors"))
    ap.add_argument("--logs", default=os.path.join(HERE, "logs"))
    ap.add_argument("--bin", type=int, default=50, help="steps per row of the committed training log")
    args = ap.parse_args(argv)

    ck = torch.load(os.path.join(args.run, args.ckpt), map_location="cpu")
    cfg = ModelConfig.from_json(ck["config"])
    targs = ck.get("args", {})
    model = S3DNeRF(cfg)
    model.load_state_dict(ck["model"])
    prev = ck.get("init_provenance") or {}
    if not prev and os.path.exists(args.out):  # same-session re-export: keep earlier sessions
        _, meta = safetensors_io.load(args.out)
        p = json.loads(meta.get("provenance", "{}"))
        prev = p if p.get("trained") else {}
    sessions = [s for s in prev.get("sessions", []) if s.get("step_to", 0) <= ck.get("start_step", 0)]
    start_wall = float(prev.get("wall_time_s", 0.0)) if ck.get("start_step", 0) else 0.0
    sessions.append({"date": time.strftime("%Y-%m-%d"), "step_from": int(ck.get("start_step", 0)),
                     "step_to": int(ck["step"]), "wall_s": round(float(ck["wall_s"]) - start_wall, 1),
                     "device": f"cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
                     "threads": targs.get("threads")})
    train_keys = ("stage", "patch", "patch_margin", "mouth_prob", "batch", "lr", "beta1", "warmup", "clip_grad",
                  "color_aug", "adv", "holdout", "data", "sync_checkpoint", "seed")
    prov = {"trained": True, "trainer": "train/train.py", "config": cfg.name, "steps": int(ck["step"]),
            "wall_time_s": round(float(ck["wall_s"]), 1),
            "cpu_hours": round(sum(s["wall_s"] for s in sessions if s["device"].startswith("cpu")) / 3600, 3),
            "gpu_hours": round(sum(s["wall_s"] for s in sessions if not s["device"].startswith("cpu")) / 3600, 3),
            "target_frames": int(ck["step"]) * int(targs.get("batch", 1)) * 5,
            "train_args": {k: targs.get(k) for k in train_keys}, "sessions": sessions,
            "git_commit": git_commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tmp = args.out + ".tmp"
    export_mod.export(model, tmp, prov, dtype=torch.float16)
    os.replace(tmp, args.out)
    print(f"exported step {prov['steps']} ({prov['wall_time_s'] / 3600:.2f} h) -> {args.out} "
          f"({os.path.getsize(args.out) / 2**20:.1f} MiB)")

    os.makedirs(args.logs, exist_ok=True)
    for name, kind in (("log.csv", "train"), ("val.csv", "val")):
        src = os.path.join(args.run, name)
        if not os.path.exists(src):
            continue
        dst = os.path.join(args.logs, f"{cfg.name}.{kind}.csv")
        done = last_step(dst)
        with open(src) as f:
            reader = csv.DictReader(f)
            cols = reader.fieldnames
            rows = [r for r in reader if done < int(r["step"]) <= int(ck["step"])]
        if kind == "train":
            rows = binned(rows, args.bin)
        print(f"{dst}: +{append_rows(dst, cols, rows)} rows")


if __name__ == "__main__":
    main()
