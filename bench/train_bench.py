#!/usr/bin/python3
"""Training-step benchmark (issue 10): target frames per second, forward + backward +
Adam, for each stage, measured in one run against the trainer as it was before patch
training (whole 256^2 frames, 48+48 samples per ray) as the baseline.

  npm run bench:train            (= /usr/bin/python3 bench/train_bench.py)
  /usr/bin/python3 bench/train_bench.py --steps 3 --threads 2 [--data .cache/data/manifest.json]

Uses the prepared clips when --data exists, else synthetic clips of the same shapes
(the timing does not depend on the pixels). Run it on an idle machine: pause a
background training run first (kill -STOP <pid>, then kill -CONT <pid>)."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "train"))
import train as trainer  # noqa: E402
from s3d_nerf.config import CONFIGS  # noqa: E402


def measure(cfg, data, stage: str, patch: int, steps: int) -> float:
    """Seconds per optimiser step (median of `steps` after one warm-up step)."""
    args = trainer.parse(["--config", "s3d-64", "--stage", stage, "--patch", str(patch), "--batch", "1",
                          "--adv", "0", "--data", data])
    torch.manual_seed(0)
    G = trainer.TrainableS3DNeRF(cfg)
    G.use_deform = stage == "full"
    opt = torch.optim.Adam(G.parameters(), lr=1e-4)
    ds = trainer.make_dataset(data, cfg, "train", 64)
    times = []
    for i in range(steps + 1):
        b = {k: v[None] if torch.is_tensor(v) else v for k, v in ds[i * 37 % len(ds)].items()}
        t = time.perf_counter()
        terms, *_ = trainer.generator_forward(G, b, args)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()
        times.append(time.perf_counter() - t)
    times = sorted(times[1:])
    return times[len(times) // 2]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--data", default=os.path.join(ROOT, ".cache", "data", "manifest.json"))
    ap.add_argument("--skip-baseline", action="store_true", help="only the current trainer (the baseline takes minutes)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = args.data if os.path.exists(args.data) else "synthetic"
    cfg = CONFIGS["s3d-64"]()
    old = dataclasses.replace(cfg, n_coarse=48, n_importance=48)
    rows = []
    for stage, frames in (("autoencoder", 1), ("full", 5)):
        base = None
        if not args.skip_baseline:
            s = measure(old, data, stage, 0, args.steps)
            base = frames / s
            rows.append((stage, "baseline: whole frames, 48+48", s, base, 1.0))
        s = measure(cfg, data, stage, 16, args.steps)
        rows.append((stage, f"patch 16^2 (+2 margin), {cfg.n_coarse}+{cfg.n_importance}", s, frames / s,
                     frames / s / base if base else float("nan")))
    print(f"s3d-64 training step, batch 1, {args.threads} threads, torch {torch.__version__}, data: {data}")
    print(f"{'stage':<12} {'trainer':<34} {'s/step':>8} {'target fr/s':>12} {'vs baseline':>12}")
    for stage, name, s, fps, ratio in rows:
        print(f"{stage:<12} {name:<34} {s:8.2f} {fps:12.2f} {ratio:11.1f}x")


if __name__ == "__main__":
    main()
