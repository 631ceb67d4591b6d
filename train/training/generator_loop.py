"""The generator training loop (DESIGN §3.6): Eq. 9 on G, the logistic loss with lazy
R1 on D after --adv-warmup steps, checkpoints, logs, samples, held-out validation and
the fp16 export at the end.

Stages: autoencoder (deformation and audio off, target = source frame, pose_tar =
pose_src, one frame per sample, no sync loss) then full (5 target frames of the same
clip, deformation, frozen SyncNet sync loss, adversarial loss). Only rank 0 writes
logs, samples, checkpoints and the export.
"""
from __future__ import annotations

import os
import random
import sys
import time
from contextlib import nullcontext
from typing import Dict, List

import torch
import torch.distributed as dist
import torch.nn.functional as F

from s3d_nerf import export as export_mod
from s3d_nerf.config import CONFIGS
from s3d_nerf.discriminator import ImageDiscriminator, d_logistic_loss, r1_penalty
from s3d_nerf.holdout import HeldOutSet
from s3d_nerf.losses import generator_loss
from s3d_nerf.patches import choose_windows, crop
from s3d_nerf.sync_net import SyncNet
from s3d_nerf.trainable import TrainableS3DNeRF

from .checkpoint import (StopRequest, load_checkpoint, load_export, resume_path, rng_state, save_checkpoint,
                         set_rng_state)
from .data import make_dataset, make_loader, to_device
from .distributed import Dist
from .run_log import LOG_COLUMNS, VAL_COLUMNS, CsvLog, git_commit, write_png


def generator_forward(G: "TrainableS3DNeRF", b: Dict, args, autocast=nullcontext, D=None, adv_w: float = 0.0,
                      sync_net=None):
    """One batch through the generator and Eq. 9: whole frames, or one ray-grid window
    per target frame when args.patch > 0 (then tgt is the matching target crop).
    Returns (terms, rgb, coarse, tgt, T) with T target frames per sample."""
    cfg, device = G.cfg, b["source"].device
    r_grid = cfg.render_size
    win = args.patch + 2 * args.patch_margin if args.patch else 0
    B = b["source"].shape[0]
    if args.stage == "autoencoder":
        T = 1
        target = b["source"][:, None]
        tmask = b["source_mask"][:, None]
        pose_tar = b["pose_src"][:, None]
        mel = b["mel"][:, :1]
    else:
        target, pose_tar, mel = b["target"], b["pose_tar"], b["mel"]
        T = target.shape[1]
        tmask = b.get("target_mask")
    S = cfg.image_size
    tgt = target.reshape(B * T, 3, S, S)
    tmask = tmask.reshape(B * T, 1, S, S) if tmask is not None else None

    if args.color_aug > 0:  # one random colour transform per sample, source and targets alike
        g = 1 + args.color_aug * (2 * torch.rand(B, 1, 3, 1, 1, device=device) - 1)
        o_ = 0.5 * args.color_aug * (2 * torch.rand(B, 1, 1, 1, 1, device=device) - 1)
        src_img = (b["source"][:, None] * g + o_).clamp(0, 1)[:, 0]
        tgt = (tgt.reshape(B, T, 3, S, S) * g + o_).clamp(0, 1).reshape(B * T, 3, S, S)
    else:
        src_img = b["source"]
    with autocast():
        if args.patch:
            lips = b["lip_box"][:, :T].reshape(B * T, 4) if "lip_box" in b else None
            top, left = choose_windows(B * T, r_grid, win, lips, S, args.mouth_prob)
            top, left = top.to(device), left.to(device)
            coarse, rgb, delta = G.train_forward_patches(src_img, b["source_mask"], b["pose_src"],
                                                        mel.reshape(B * T, *mel.shape[2:]),
                                                        pose_tar.reshape(B * T, 4, 4), T, top, left,
                                                        win, args.patch_margin, jitter=True)
            up = S // r_grid
            m_ = args.patch_margin
            tgt = crop(tgt, (top + m_) * up, (left + m_) * up, args.patch * up)
            tmask = crop(tmask, (top + m_) * up, (left + m_) * up, args.patch * up) if tmask is not None else None
        else:
            _, rgb, coarse, delta = G.train_forward(src_img, b["source_mask"], b["pose_src"],
                                                    mel.reshape(B * T, *mel.shape[2:]),
                                                    pose_tar.reshape(B * T, 4, 4), T, jitter=True)
        terms = generator_loss(coarse[:, :3].float(), rgb.float(), tgt, delta.float(), target_mask=tmask,
                               disc=D if adv_w > 0 else None, adv_weight=adv_w,
                               fm_weight=args.fm_weight if adv_w > 0 else 0,
                               # the sync loss needs the whole lower face of 5 frames (not one window)
                               sync_net=sync_net if args.stage == "full" and not args.patch else None,
                               lip_box=b.get("lip_box"), sync_mel=b.get("sync_mel"), n_frames=T)
    return terms, rgb, coarse, tgt, T


def train_generator(args) -> Dict:
    """Runs the generator training for parsed train.py arguments; returns steps, wall_s,
    history (one dict of loss terms per step) and export (the path) when one was written."""
    d = Dist()
    device = d.device(args.device)
    cfg = CONFIGS[args.config]()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    G = TrainableS3DNeRF(cfg).to(device)
    G.use_deform = args.stage == "full"
    G.checkpoint_points = args.grad_checkpoint
    # In patch mode D judges the target-window crops (patch * 4 pixels), not whole frames.
    d_size = args.patch * (cfg.image_size // cfg.render_size) if args.patch else cfg.image_size
    D = ImageDiscriminator(d_size, base=args.d_base).to(device)
    d.broadcast_module(G)
    d.broadcast_module(D)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(args.beta1, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=args.lr_d, betas=(0.0, 0.99))
    use_amp = args.amp == "bf16" and device.type == "cuda"
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else nullcontext

    sync_net = None
    if args.sync_checkpoint:
        sync_net = SyncNet.from_checkpoint(args.sync_checkpoint).to(device).eval().requires_grad_(False)
    elif args.stage == "full" and d.main:
        print("warning: no --sync-checkpoint, the lip-sync term is off", file=sys.stderr)

    step = 0
    if args.out and d.main:
        os.makedirs(args.out, exist_ok=True)
    resume = resume_path(args.resume, args.out)
    ck = None
    if resume:
        ck = load_checkpoint(resume, device, G, D, opt_g, opt_d, d_size, d.main)
        step = ck["step"]
        if d.main:
            print(f"resumed {resume} at step {step}")
    init_prov = None
    if ck is None and args.init_from:
        # Cross-session resume from the committed export (weights only; Adam re-warmed).
        init_prov = load_export(args.init_from, G, cfg, args.config)
        step = int(init_prov.get("steps", 0))
        if d.main:
            print(f"initialised from {args.init_from} at step {step} "
                  f"({init_prov.get('wall_time_s', 0) / 3600:.2f} h trained)", flush=True)
    if ck is not None:
        init_prov = ck.get("init_provenance")
    start_step = ck.get("start_step", 0) if ck is not None else step
    log = CsvLog(os.path.join(args.out, "log.csv"), LOG_COLUMNS, step if ck else None) if d.main else None

    holdout = [h for h in args.holdout.split(",") if h] if args.data != "synthetic" else []
    ds = make_dataset(args.data, cfg, "train", args.synthetic_size, exclude=holdout)
    if d.main and holdout:
        names = sorted({c.name for c in ds.clips})
        print(f"training on {len(names)} clips ({len(ds)} samples); held out: {', '.join(holdout)}", flush=True)
    val_set = HeldOutSet(args.data, cfg, holdout, args.val_frames) if (holdout and d.main and args.val_minutes > 0) else None
    val_log = CsvLog(os.path.join(args.out, "val.csv"), VAL_COLUMNS, step if ck else None) if val_set else None
    loader = make_loader(ds, args, d, step)
    # Per-rank RNG (ray jitter) -- after the loader so resume restores the very same state.
    if ck is not None and "rng" in ck:
        set_rng_state(ck["rng"][d.rank] if isinstance(ck["rng"], list) else ck["rng"], device)
    else:
        torch.manual_seed(args.seed * 1000 + d.rank + 1)

    t_start = time.time()
    wall_before = ck.get("wall_s", 0.0) if ck else float(init_prov.get("wall_time_s", 0.0)) if init_prov else 0.0
    last_ckpt = last_val = time.time()
    if val_set is not None and ck is None:
        last_val = 0.0  # the untrained model's numbers are the curve's first point
    history: List[Dict] = []
    G.train()
    D.train()
    stop = StopRequest()
    while step < args.steps:
        step += 1
        b = to_device(next(loader), device)
        lr_now = args.lr * min(1.0, (step - start_step) / max(1, args.warmup))
        for grp in opt_g.param_groups:
            grp["lr"] = lr_now
        adv_on = args.adv and step > args.adv_warmup
        adv_w = args.adv_weight * min(1.0, (step - args.adv_warmup) / max(1, args.adv_ramp)) if adv_on else 0.0
        terms, rgb, coarse, tgt, T = generator_forward(G, b, args, autocast, D, adv_w, sync_net)
        B, S = b["source"].shape[0], cfg.image_size
        opt_g.zero_grad(set_to_none=True)
        terms["total"].backward()
        if adv_on:
            D.zero_grad(set_to_none=True)  # D's grads from the G pass are not D's update
        d.average_grads(list(G.parameters()))
        if args.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_(G.parameters(), args.clip_grad)
        opt_g.step()
        row = {k: float(v.detach()) for k, v in terms.items()}

        if adv_on:
            fake = rgb.detach().float()
            with autocast():
                lr_ = D(tgt)
                lf_ = D(fake)
                d_loss = d_logistic_loss(lr_.float(), lf_.float())
            row.update(d_real=float(lr_.float().mean()), d_fake=float(lf_.float().mean()))
            if step % args.r1_every == 0 and args.r1_gamma > 0:
                r1 = r1_penalty(D, tgt)
                d_loss = d_loss + 0.5 * args.r1_gamma * args.r1_every * r1
                row["r1"] = float(r1.detach())
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            d.average_grads(list(D.parameters()))
            opt_d.step()
            row["d_loss"] = float(d_loss.detach())

        row = {k: d.mean_scalar(v) for k, v in row.items()}
        history.append(row)
        if d.main:
            wall = wall_before + time.time() - t_start
            log.write({"step": step, "wall_s": round(wall, 3), "stage": args.stage, "lr": lr_now, **row})
            if step % args.print_every == 0 or step == args.steps:
                print(f"step {step} " + " ".join(f"{k}={v:.4f}" for k, v in row.items()), flush=True)
            if args.sample_every and (step % args.sample_every == 0 or step == args.steps):
                n = min(4, B)
                up = F.interpolate(coarse[:, :3].detach().float().clamp(0, 1), size=(S, S), mode="nearest")
                if args.patch:  # source | target window | coarse window | fine window, all at window size
                    pw = tgt.shape[-1]
                    src_small = F.interpolate(b["source"][:n], size=(pw, pw), mode="area")
                    rows = [torch.cat([src_small[i], tgt[i * T], F.interpolate(up[i * T:i * T + 1], size=(pw, pw))[0],
                                       rgb[i * T].detach().float().clamp(0, 1)], 2) for i in range(n)]
                else:
                    rows = [torch.cat([b["source"][i], tgt[i * T], up[i * T], rgb[i * T].detach().float()], 2)
                            for i in range(n)]
                write_png(os.path.join(args.out, f"sample_{step:07d}.png"), torch.cat(rows, 1))
            if val_set is not None and time.time() - last_val >= 60 * args.val_minutes:
                G.eval()
                v = val_set.evaluate(G)
                write_png(os.path.join(args.out, f"val_{step:07d}.png"), val_set.last_grid)
                G.train()
                last_val = time.time()
                val_log.write({"step": step, "wall_s": round(wall_before + time.time() - t_start, 3), **v})
                print(f"val step {step} " + " ".join(f"{k}={v_:.3f}" for k, v_ in v.items()), flush=True)
        time_due = args.ckpt_minutes > 0 and time.time() - last_ckpt >= 60 * args.ckpt_minutes
        time_due = time_due or stop.requested  # SIGTERM/SIGINT: checkpoint this step, then stop
        if time_due:
            last_ckpt = time.time()
        if time_due or (args.ckpt_every and (step % args.ckpt_every == 0 or step == args.steps)):
            rngs = [rng_state(device)]
            if d.world > 1:
                rngs = [None] * d.world
                dist.all_gather_object(rngs, rng_state(device))
            if d.main:
                state = {"model": G.state_dict(), "disc": D.state_dict(), "opt_g": opt_g.state_dict(),
                         "opt_d": opt_d.state_dict(), "step": step, "start_step": start_step, "rng": rngs,
                         "init_provenance": init_prov, "config": cfg.to_json(),
                         "args": vars(args), "wall_s": wall_before + time.time() - t_start}
                save_checkpoint(args.out, step, state, args.keep_ckpts)
        if stop.requested:
            if d.main:
                print(f"stopped by signal at step {step} (checkpointed)", flush=True)
            break

    wall = wall_before + time.time() - t_start
    result = {"steps": step, "wall_s": wall, "history": history}
    if d.main and (args.export or args.out):
        path = args.export or os.path.join(args.out, "model.safetensors")
        last = history[-20:]
        prov = {"trained": True, "trainer": "train/train.py", "steps": step, "stage": args.stage,
                "config": cfg.name, "data": args.data, "batch_per_process": args.batch, "world_size": d.world,
                "lr": args.lr, "lr_d": args.lr_d, "adv": args.adv, "adv_warmup": args.adv_warmup, "adv_weight": args.adv_weight,
                "sync_checkpoint": args.sync_checkpoint, "amp": "bf16" if use_amp else "off",
                "device": str(device), "wall_time_s": round(wall, 1), "git_commit": git_commit(),
                "final_losses_mean_last_20": {k: sum(h.get(k, 0.0) for h in last) / len(last)
                                              for k in (last[-1] if last else {})},
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        G.eval()
        export_mod.export(G, path, prov, dtype=torch.float16)
        result["export"] = path
        print(f"exported {path}")
    d.close()
    return result
