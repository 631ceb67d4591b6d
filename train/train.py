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
import csv
import json
import math
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from contextlib import nullcontext
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint
from torch.utils.data import DataLoader, DistributedSampler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from s3d_nerf import export as export_mod  # noqa: E402
from s3d_nerf.config import CONFIGS  # noqa: E402
from s3d_nerf.discriminator import ImageDiscriminator, d_logistic_loss, r1_penalty  # noqa: E402
from s3d_nerf.encoder import sample_triplanes  # noqa: E402
from s3d_nerf.losses import generator_loss  # noqa: E402
from s3d_nerf.model import Identity, S3DNeRF  # noqa: E402
from s3d_nerf.patches import choose_windows, crop, render_patches  # noqa: E402
from s3d_nerf.holdout import HeldOutSet  # noqa: E402
from s3d_nerf.sync_net import SyncNet, cosine, default_crop, sync_batch_loss  # noqa: E402

VAL_COLUMNS = ["step", "wall_s", "psnr", "psnr_mouth", "psnr_coarse", "copy_psnr", "copy_psnr_mouth", "n"]
LOG_COLUMNS = ["step", "wall_s", "stage", "lr", "total", "pix_coarse", "pix_fine", "msssim_coarse", "msssim_fine",
               "perceptual", "feat_match", "adv", "sync", "delta", "d_loss", "d_real", "d_fake", "r1"]


# ---------------------------------------------------------------------------- model
class TrainableS3DNeRF(S3DNeRF):
    """S3DNeRF plus training switches; identical parameters/state_dict (export works as is).
    use_deform False: the deformation field (and so the audio path) is bypassed, dx = 0.
    checkpoint_points True: each NeRF point query is recomputed in backward instead of
    storing its per-point activations (the bulk of training memory)."""

    use_deform: bool = True
    checkpoint_points: bool = False

    def query_points(self, ident: Identity, cm, code, xs):
        def fn(x):
            dx = self.deform(x, cm, code) if self.use_deform else torch.zeros_like(x)
            p, nb = x + dx, ident.planes[0].shape[0]
            if p.shape[0] != nb:  # T frames share their source's planes: (B*T,N,3) -> (B,T*N,3)
                f = sample_triplanes(ident.planes, p.reshape(nb, -1, 3), self.cfg.plane_channels, self.cfg.plane_scale)
                f = f.reshape(p.shape[0], p.shape[1], -1)
            else:
                f = sample_triplanes(ident.planes, p, self.cfg.plane_channels, self.cfg.plane_scale)
            sigma, feat = self.decoder(f)
            return sigma, feat, dx

        if self.checkpoint_points and torch.is_grad_enabled():
            return checkpoint(fn, xs, use_reentrant=False)
        return fn(xs)

    def train_forward(self, source, mask, pose_src, mel, pose_tar, n_frames: int, jitter: bool = True):
        """B sources, B*n_frames targets (sample-major) -> rgb_mid, rgb, coarse, delta."""
        ident = self.encode_identity(source, mask, pose_src)
        rep = lambda t: t.repeat_interleave(n_frames, 0)  # noqa: E731
        ident = Identity([rep(p) for p in ident.planes], rep(ident.query), rep(ident.src_full),
                         rep(ident.src_half), rep(ident.pose_src))
        rgb_mid, rgb, out = self.render(ident, mel, pose_tar, jitter)
        return rgb_mid, rgb, out.coarse, out.delta

    def train_forward_patches(self, source, mask, pose_src, mel, pose_tar, n_frames: int, top, left,
                              window: int, margin: int, jitter: bool = True):
        """As train_forward, on one ray-grid window per target frame (s3d_nerf/patches.py):
        coarse (N,36,P,P), rgb (N,3,4P,4P) for the window interiors, delta."""
        ident = self.encode_identity(source, mask, pose_src)
        # per frame: query and pose; planes and SR source features stay per sample (not
        # copied T times: query_points and render_patches index them by frame // T)
        rep = lambda t: t.repeat_interleave(n_frames, 0)  # noqa: E731
        ident = Identity(ident.planes, rep(ident.query), ident.src_full, ident.src_half, rep(ident.pose_src))
        return render_patches(self, ident, mel, pose_tar, top, left, window, margin, jitter, n_frames)


# ---------------------------------------------------------------------------- distributed
class Dist:
    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if self.world > 1:
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            self.rank = dist.get_rank()

    @property
    def main(self) -> bool:
        return self.rank == 0

    def device(self, want: str) -> torch.device:
        if want == "auto":
            want = "cuda" if torch.cuda.is_available() else "cpu"
        if want == "cuda":
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return torch.device(want)

    def broadcast_module(self, m: torch.nn.Module):
        if self.world > 1:
            for t in m.state_dict().values():
                dist.broadcast(t, 0)

    def average_grads(self, params: List[torch.nn.Parameter]):
        if self.world <= 1:
            return
        params = [p for p in params if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        flat /= self.world
        i = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[i:i + n].view_as(p))
            i += n

    def mean_scalar(self, x: float) -> float:
        if self.world <= 1:
            return x
        t = torch.tensor([x], dtype=torch.float64, device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(t)
        return float(t) / self.world

    def close(self):
        if self.world > 1:
            dist.destroy_process_group()


class StopRequest:
    """SIGTERM / SIGINT end training after the current step with a checkpoint (and the
    usual export), so stopping a background run loses no work."""

    def __init__(self):
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.requested = True


# ---------------------------------------------------------------------------- data
def make_dataset(spec: str, cfg, split: str, synthetic_size: int, exclude: Optional[List[str]] = None):
    if spec == "synthetic":
        from s3d_nerf.synthetic_data import SyntheticTalkingDataset
        return SyntheticTalkingDataset(cfg, synthetic_size if split == "train" else max(64, synthetic_size // 8),
                                       seed=0 if split == "train" else 1)
    try:
        from s3d_nerf.dataset import TalkingClipDataset
    except ImportError as e:
        raise SystemExit(f"--data {spec}: needs train/s3d_nerf/dataset.py (TalkingClipDataset), "
                         f"which could not be imported ({e}). Use --data synthetic, or prepare the data "
                         "with train/prepare_data.py first.")
    return TalkingClipDataset(spec, cfg, split, exclude=exclude)


class StepBatches:
    """Batch index lists for steps start, start+1, ... (infinite): DistributedSampler
    shards (one shuffled permutation per epoch, seeded), so the batch of a step depends
    only on (seed, step, rank, world) -- which makes --resume exact."""

    def __init__(self, dataset, batch: int, seed: int, rank: int, world: int, start_step: int):
        self.sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed,
                                          drop_last=True)
        self.batch, self.start = batch, start_step
        self.per_epoch = len(self.sampler) // batch
        if self.per_epoch < 1:
            raise SystemExit(f"dataset of {len(dataset)} samples is smaller than batch {batch} x world {world}")

    def __iter__(self):
        step, epoch, idx = self.start, None, None
        while True:
            e, k = divmod(step, self.per_epoch)
            if e != epoch:
                self.sampler.set_epoch(e)
                idx, epoch = list(self.sampler), e
            yield idx[k * self.batch:(k + 1) * self.batch]
            step += 1


def make_loader(ds, args, d: Dist, start_step: int):
    bs = StepBatches(ds, args.batch, args.seed, d.rank, d.world, start_step)
    return iter(DataLoader(ds, batch_sampler=bs, num_workers=args.workers,
                           generator=torch.Generator().manual_seed(args.seed + 7919 * start_step),
                           persistent_workers=False, pin_memory=torch.cuda.is_available()))


# ---------------------------------------------------------------------------- io helpers
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
    try:
        return subprocess.check_output(["git", "-C", HERE, "rev-parse", "HEAD"], text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except Exception:
        return None


def rng_state(device: torch.device) -> Dict:
    s = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        s["cuda"] = torch.cuda.get_rng_state(device)
    return s


def set_rng_state(s: Dict, device: torch.device) -> None:
    torch.set_rng_state(s["torch"])
    random.setstate(s["python"])
    if device.type == "cuda" and "cuda" in s:
        torch.cuda.set_rng_state(s["cuda"], device)


def to_device(batch: Dict, device) -> Dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


# ---------------------------------------------------------------------------- generator training
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
    d = Dist()
    device = d.device(args.device)
    cfg = CONFIGS[args.config]()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    G = TrainableS3DNeRF(cfg).to(device)
    G.use_deform = args.stage == "full"
    G.checkpoint_points = args.grad_checkpoint
    D = ImageDiscriminator(cfg.image_size, base=args.d_base).to(device)
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
    resume = args.resume
    if resume == "auto":
        resume = os.path.join(args.out, "latest.pt")
        resume = resume if os.path.exists(resume) else None
    ck = None
    if resume:
        ck = torch.load(resume, map_location=device)
        G.load_state_dict(ck["model"])
        D.load_state_dict(ck["disc"])
        opt_g.load_state_dict(ck["opt_g"])
        opt_d.load_state_dict(ck["opt_d"])
        step = ck["step"]
        if d.main:
            print(f"resumed {resume} at step {step}")
    init_prov = None
    if ck is None and args.init_from:
        # Cross-session resume from the committed export: weights only (fp16 -> fp32),
        # the step count and wall time carry on from its provenance; Adam starts fresh
        # and is re-warmed by --warmup (the optimiser state is not committed).
        tensors, meta = export_mod.safetensors_io.load(args.init_from)
        if json.loads(meta["config"]) != json.loads(cfg.to_json()):
            raise SystemExit(f"--init-from {args.init_from}: its config differs from --config {args.config}")
        G.load_state_dict({k: v.float() for k, v in tensors.items()})
        init_prov = json.loads(meta.get("provenance", "{}"))
        if not init_prov.get("trained"):
            raise SystemExit(f"--init-from {args.init_from}: not a trained export (provenance.trained is not true)")
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
        adv_w = min(1.0, (step - args.adv_warmup) / max(1, args.adv_ramp)) if adv_on else 0.0
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
                p = os.path.join(args.out, f"ckpt_{step:07d}.pt")
                torch.save(state, p + ".tmp")
                os.replace(p + ".tmp", p)
                shutil.copyfile(p, os.path.join(args.out, "latest.pt.tmp"))
                os.replace(os.path.join(args.out, "latest.pt.tmp"), os.path.join(args.out, "latest.pt"))
                for old in sorted(f for f in os.listdir(args.out) if f.startswith("ckpt_"))[:-args.keep_ckpts]:
                    os.remove(os.path.join(args.out, old))
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
                "lr": args.lr, "lr_d": args.lr_d, "adv": args.adv, "adv_warmup": args.adv_warmup,
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


# ---------------------------------------------------------------------------- SyncNet pre-training
@torch.no_grad()
def evaluate_sync(net: SyncNet, loader, device, threshold: float, max_batches: int = 1000) -> Dict:
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
    ds = make_dataset(args.data, cfg, "train", args.synthetic_size)
    val = make_dataset(args.data, cfg, "val", args.synthetic_size)
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


# ---------------------------------------------------------------------------- cli
def parse(argv=None):
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
    ap.add_argument("--adv-warmup", type=int, default=2000)
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
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    return train_sync(args) if args.mode == "sync" else train_generator(args)


if __name__ == "__main__":
    main()
