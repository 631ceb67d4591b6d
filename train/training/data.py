"""Training data: the dataset for --data, and step-indexed batches.

Every rank reads its own DistributedSampler shard, and the batch of a step depends
only on (seed, step, rank, world), so --resume continues with exactly the batches an
uninterrupted run would have read.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import torch
from torch.utils.data import DataLoader, DistributedSampler

from .distributed import Dist


def heldout_dataset(spec: str, cfg, holdout: List[str]):
    """Every 5-frame window (train and val split) of the clips whose names contain one of
    the holdout substrings: validation on people a model never saw."""
    import json

    from torch.utils.data import ConcatDataset

    from s3d_nerf.dataset import TalkingClipDataset
    with open(spec) as f:
        names = [c["name"] for c in json.load(f)["clips"] if any(h in c["name"] for h in holdout)]
    if not names:
        raise SystemExit(f"--holdout {','.join(holdout)}: no clip in {spec} matches")
    return ConcatDataset([TalkingClipDataset(spec, cfg, split, clips=names) for split in ("train", "val")])


def make_dataset(spec: str, cfg, split: str, synthetic_size: int, exclude: Optional[List[str]] = None):
    """--data "synthetic" (SyntheticTalkingDataset) or a manifest path (TalkingClipDataset)."""
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
    """Iterator over the batches of steps start_step+1, ... for this rank."""
    bs = StepBatches(ds, args.batch, args.seed, d.rank, d.world, start_step)
    return iter(DataLoader(ds, batch_sampler=bs, num_workers=args.workers,
                           generator=torch.Generator().manual_seed(args.seed + 7919 * start_step),
                           persistent_workers=False, pin_memory=torch.cuda.is_available()))


def to_device(batch: Dict, device) -> Dict:
    """The batch's tensors moved to device; other values as they are."""
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
