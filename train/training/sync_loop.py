"""SyncNet pre-training (`train.py sync`, DESIGN §3.6): the lip-sync network alone,
with the triplet loss (Eq. 7), validated on the val split; written to OUT/syncnet.pt
and then used frozen by the generator's sync loss (--sync-checkpoint)."""
from __future__ import annotations

import os
import time
from typing import Dict

import torch
from torch.utils.data import DataLoader

from s3d_nerf.config import CONFIGS
from s3d_nerf.sync_net import SyncNet, cosine, default_crop, sync_batch_loss

from .data import heldout_dataset, make_dataset, make_loader, to_device
from .distributed import Dist
from .run_log import CsvLog


@torch.no_grad()
def evaluate_sync(net: SyncNet, loader, device, threshold: float, max_batches: int = 1000) -> Dict:
    """In-sync vs shifted cosine on up to max_batches validation batches, classified at threshold."""
    net.eval()
    pos, neg = [], []
    for i, b in enumerate(loader):
        if i >= max_batches:
            break
        b = to_device(b, device)
        e_l = net.embed_lips(net.lips_from_frames(b["target"], b["lip_box"]))
        pos.append(cosine(e_l, net.embed_audio(b["sync_mel"])))
        neg.append(cosine(e_l, net.embed_audio(b["sync_mel_neg"])))
    pos, neg = torch.cat(pos), torch.cat(neg)
    net.train()
    acc = 0.5 * ((pos > threshold).float().mean() + (neg <= threshold).float().mean())
    return {"val_acc": float(acc), "val_pair_acc": float((pos > neg).float().mean()),
            "val_pos": float(pos.mean()), "val_neg": float(neg.mean()), "threshold": threshold, "n": int(pos.numel())}


def train_sync(args) -> Dict:
    """Trains the SyncNet alone (triplet loss, Eq. 7) and reports validation accuracy:
    val_acc = balanced accuracy of classifying in-sync vs >=5-frame-shifted pairs with the
    threshold fixed on the training batches (midpoint of the EMA of mean pos/neg cosine);
    val_pair_acc = fraction of samples whose in-sync cosine beats the shifted one."""
    d = Dist()
    device = d.device(args.device)
    cfg = CONFIGS[args.config]()
    torch.manual_seed(args.seed)
    net = SyncNet(cfg.audio.n_mels, default_crop(cfg.image_size), width=args.sync_width, embed=args.sync_embed).to(device)
    d.broadcast_module(net)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    # The held-out identities (--holdout) are never trained on, here as in the generator
    # stages; with real data they are the validation: every frame of their clips, i.e.
    # accuracy on people the SyncNet never saw.
    holdout = [h for h in args.holdout.split(",") if h] if args.data != "synthetic" else []
    ds = make_dataset(args.data, cfg, "train", args.synthetic_size, exclude=holdout)
    val = heldout_dataset(args.data, cfg, holdout) if holdout else make_dataset(args.data, cfg, "val", args.synthetic_size)
    if d.main:
        print(f"SyncNet: training on {len(ds)} windows; validating on {len(val)} windows"
              + (f" of the held-out {', '.join(holdout)}" if holdout else " (val split)"), flush=True)
    loader = make_loader(ds, args, d, 0)
    val_loader = DataLoader(val, batch_size=args.batch, shuffle=False, num_workers=args.workers)
    if d.main and args.out:
        os.makedirs(args.out, exist_ok=True)
    log = CsvLog(os.path.join(args.out, "sync_log.csv"), ["step", "wall_s", "loss", "pos", "neg", "val_acc",
                                                            "val_pair_acc"], None) if d.main else None
    ema_pos, ema_neg = None, None
    t0 = time.time()
    metrics = {}
    for step in range(1, args.steps + 1):
        b = to_device(next(loader), device)
        out = sync_batch_loss(net, b)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        d.average_grads(list(net.parameters()))
        opt.step()
        p, n = d.mean_scalar(float(out["pos"].mean())), d.mean_scalar(float(out["neg"].mean()))
        ema_pos = p if ema_pos is None else 0.95 * ema_pos + 0.05 * p
        ema_neg = n if ema_neg is None else 0.95 * ema_neg + 0.05 * n
        row = {"step": step, "wall_s": round(time.time() - t0, 3), "loss": d.mean_scalar(float(out["loss"])),
               "pos": p, "neg": n}
        if step % args.eval_every == 0 or step == args.steps:
            metrics = evaluate_sync(net, val_loader, device, 0.5 * (ema_pos + ema_neg))
            row.update(val_acc=metrics["val_acc"], val_pair_acc=metrics["val_pair_acc"])
            if d.main:
                print(f"sync step {step} loss={row['loss']:.4f} " +
                      " ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float)), flush=True)
        if d.main:
            log.write(row)
    if d.main:
        torch.save({"model": net.state_dict(), "hparams": net.hparams, "threshold": metrics.get("threshold"),
                    "val": metrics, "steps": args.steps, "data": args.data, "config": cfg.name},
                   os.path.join(args.out, "syncnet.pt"))
    d.close()
    return {"wall_s": time.time() - t0, **metrics}
