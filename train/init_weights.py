"""Write a freshly initialised (UNTRAINED) model file, e.g. the placeholder that
weights/ ships until the training issue lands:

    /usr/bin/python3 train/init_weights.py --config s3d-64 --out weights/s3d-64.safetensors
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3d_nerf.config import CONFIGS  # noqa: E402
from s3d_nerf.export import export  # noqa: E402
from s3d_nerf.model import S3DNeRF  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="s3d-64", choices=sorted(CONFIGS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    model = S3DNeRF(CONFIGS[a.config]())
    export(model, a.out, {"trained": False, "seed": a.seed, "note": "random initialisation; renders noise"},
           dtype=getattr(torch, a.dtype))
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB, untrained)")


if __name__ == "__main__":
    main()
