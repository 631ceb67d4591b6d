#!/usr/bin/env python3
"""S3D-NeRF trainer (DESIGN §3.6).

Generator (default mode):
  /usr/bin/python3 train/train.py --config tiny --data synthetic --steps 300 --out runs/tiny
  torchrun --nproc_per_node 4 train/train.py --config s3d-64 --data data/manifest.json \
      --sync-checkpoint runs/sync/syncnet.pt --stage full --out runs/s3d64 --resume auto
SyncNet pre-training:
  /usr/bin/python3 train/train.py sync --config tiny --data synthetic --steps 400 --out runs/sync

Stages: --stage autoencoder (deformation and audio off, target = source frame,
pose_tar = pose_src, one frame per sample, no sync loss) then --stage full
(5 target frames of the same clip, deformation, frozen SyncNet sync loss,
adversarial loss after --adv-warmup steps).

Multi-process: torch.distributed is used only when WORLD_SIZE > 1 (torchrun).
Gradients are averaged with one flat all-reduce per optimiser step (no DDP
wrapper, so R1's double backward, gradient checkpointing and the unused
audio/deform parameters of the autoencoder stage need no special cases);
every rank reads its own DistributedSampler shard; only rank 0 writes logs,
samples, checkpoints and the export.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# This file is the command line; the model wrapper is s3d_nerf/trainable.py and the loops,
# data, logs, checkpoints and distributed helpers are in training/ (see its __init__).
# Re-exported so that `import train` keeps giving the trainer's pieces (tests, bench/).
from s3d_nerf.config import CONFIGS  # noqa: E402
from s3d_nerf.discriminator import ImageDiscriminator  # noqa: E402,F401
from s3d_nerf.trainable import TrainableS3DNeRF  # noqa: E402,F401
from training.checkpoint import StopRequest, rng_state, set_rng_state  # noqa: E402,F401
from training.data import StepBatches, make_dataset, make_loader, to_device  # noqa: E402,F401
from training.distributed import Dist  # noqa: E402,F401
from training.generator_loop import generator_forward, train_generator  # noqa: E402
from training.run_log import LOG_COLUMNS, VAL_COLUMNS, CsvLog, git_commit, write_png  # noqa: E402,F401
from training.sync_loop import evaluate_sync, train_sync  # noqa: E402,F401


def parse(argv=None):
    """train.py's arguments; a leading "sync" (or "pretrain-sync") selects SyncNet pre-training."""
    argv = list(sys.argv[1:] if argv is None else argv)
    mode = "generator"
    if argv and argv[0] in ("sync", "pretrain-sync"):
        mode, argv = "sync", argv[1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="s3d-64", choices=sorted(CONFIGS))
    ap.add_argument("--data", default="synthetic", help="'synthetic' or a manifest path (TalkingClipDataset)")
    ap.add_argument("--synthetic-size", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=4, help="samples per process")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--lr-d", type=float, default=2e-4)
    ap.add_argument("--amp", default="bf16", choices=["bf16", "off"], help="autocast on CUDA only")
    ap.add_argument("--grad-checkpoint", action="store_true", help="recompute NeRF point queries in backward")
    ap.add_argument("--stage", default="full", choices=["autoencoder", "full"])
    ap.add_argument("--patch", type=int, default=0,
                    help="patch training: P x P coarse rays per target frame (+ margin) and the SR on that crop; 0 = whole frames")
    ap.add_argument("--patch-margin", type=int, default=2, help="coarse pixels around each patch for the SR's receptive field")
    ap.add_argument("--mouth-prob", type=float, default=0.5, help="share of patches centred on the lips")
    ap.add_argument("--holdout", default="jackie_chan,mairead_mcguinness",
                    help="comma-separated clip-name substrings never trained on (single-shot validation)")
    ap.add_argument("--val-minutes", type=float, default=15, help="held-out validation every N minutes (0 = off)")
    ap.add_argument("--val-frames", type=int, default=6, help="target frames per held-out clip in validation")
    ap.add_argument("--ckpt-minutes", type=float, default=10, help="also checkpoint every N minutes (0 = off)")
    ap.add_argument("--keep-ckpts", type=int, default=2, help="numbered checkpoints kept besides latest.pt")
    ap.add_argument("--beta1", type=float, default=0.0, help="Adam beta1 (paper: 0)")
    ap.add_argument("--warmup", type=int, default=0, help="linear lr warm-up steps")
    ap.add_argument("--color-aug", type=float, default=0.0, help="per-sample colour gain/offset jitter amplitude")
    ap.add_argument("--adv", type=int, default=1, help="0 disables the adversarial term")
    ap.add_argument("--adv-warmup", type=int, default=2000, help="global step after which the term ramps in")
    ap.add_argument("--adv-weight", type=float, default=1.0,
                    help="weight of the adversarial term once ramped in (the pixel MSE is ~0.01)")
    ap.add_argument("--adv-ramp", type=int, default=500)
    ap.add_argument("--fm-weight", type=float, default=0.0, help="feature-matching weight inside L_per")
    ap.add_argument("--r1-gamma", type=float, default=1.0)
    ap.add_argument("--r1-every", type=int, default=16)
    ap.add_argument("--d-base", type=int, default=32)
    ap.add_argument("--clip-grad", type=float, default=0.0)
    ap.add_argument("--sync-checkpoint", default=None)
    ap.add_argument("--sync-width", type=int, default=64)
    ap.add_argument("--sync-embed", type=int, default=256)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--out", default="runs/default")
    ap.add_argument("--resume", default=None, help="checkpoint path, or 'auto' (OUT/latest.pt if present)")
    ap.add_argument("--init-from", default=None,
                    help="start from a trained export (e.g. the committed weights/s3d-64.safetensors) when there is "
                         "no checkpoint to resume: weights, step count and wall time carry on; Adam is re-warmed")
    ap.add_argument("--ckpt-every", type=int, default=1000)
    ap.add_argument("--sample-every", type=int, default=500)
    ap.add_argument("--print-every", type=int, default=50)
    ap.add_argument("--export", default=None, help="safetensors path (default OUT/model.safetensors)")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    args = ap.parse_args(argv)
    args.mode = mode
    return args


def main(argv=None):
    """Parses argv and runs the generator or SyncNet training; returns its result dict."""
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return train_sync(args) if args.mode == "sync" else train_generator(args)


if __name__ == "__main__":
    main()
