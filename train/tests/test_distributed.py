"""Multi-process training test: torchrun --standalone --nproc_per_node 2 (gloo on CPU)
on train/train.py, tiny config, synthetic data, 6 steps of the full stage with the
adversarial term, R1, the frozen-SyncNet loss and gradient checkpointing all active.
Runs under pytest or plainly:

    /usr/bin/python3 -m pytest -q -s train/tests/test_distributed.py
    /usr/bin/python3 train/tests/test_distributed.py

Each rank runs train.main through a small wrapper (written to a temp dir) that
  - records every file the rank opens for writing / torch.saves / copies / renames, and
  - after training, dumps the final generator and discriminator parameters and the
    Adam states of that rank (the model instances are captured by wrapping the
    constructors, so train.py needs no debug hooks).
Asserts: torchrun exits 0; only rank 0 wrote files (log.csv, checkpoints, samples,
export), and log.csv has exactly one row per step; rank 0 and rank 1 end with
bit-identical parameters and optimiser states (the ranks read different data shards
and draw different ray jitter, so this holds only if the gradient all-reduce is right);
rank 0's final checkpoint equals its in-memory parameters; and the training really
moved the parameters (identical-but-untrained would pass the equality trivially).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.dirname(HERE)
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
STEPS = 6
# torch 1.13's torchrun under Python >= 3.11 crashes on its own defaults "--redirects 0 --tee 0"
# (Std.from_str iterates an IntFlag, which no longer yields the 0-valued member: 'NoneType'
# object has no attribute 'get'). Tee-ing stdout (1) works everywhere and gives per-rank logs.
TORCHRUN_STD = ["--redirects", "1", "--tee", "1"]

WRAPPER = r'''
import builtins, json, os, shutil, sys
TRAIN, TRACK = sys.argv[1], sys.argv[2]
sys.argv = [os.path.join(TRAIN, "train.py")] + sys.argv[3:]
sys.path.insert(0, TRAIN)
import torch
import train as T
rank = int(os.environ.get("RANK", "0"))
written, models, opts = [], {}, []

def note(p):
    if isinstance(p, (str, bytes, os.PathLike)):
        written.append(os.path.abspath(os.fsdecode(p)))

_open = builtins.open
def open_(file, mode="r", *a, **k):
    if any(c in mode for c in "wax+"):
        note(file)
    return _open(file, mode, *a, **k)
builtins.open = open_
_save = torch.save
def save_(obj, f, *a, **k):
    note(f)
    return _save(obj, f, *a, **k)
torch.save = save_
_copy = shutil.copyfile
shutil.copyfile = lambda s, d, *a, **k: (note(d), _copy(s, d, *a, **k))[1]
_replace = os.replace
os.replace = lambda s, d, *a, **k: (note(d), _replace(s, d, *a, **k))[1]

def capture(cls, key):
    init = cls.__init__
    def __init__(self, *a, **k):
        init(self, *a, **k)
        models[key] = self
    cls.__init__ = __init__
capture(T.TrainableS3DNeRF, "G")
capture(T.ImageDiscriminator, "D")
_adam = torch.optim.Adam
class Adam(_adam):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        opts.append(self)
torch.optim.Adam = Adam

if os.environ.get("S3D_TEST_BREAK_ALLREDUCE"):   # negative control: the equality check must then fail
    T.Dist.average_grads = lambda self, params: None
T.main()

builtins.open, torch.save, shutil.copyfile, os.replace = _open, _save, _copy, _replace
_save({"G": {k: v.detach().cpu().clone() for k, v in models["G"].state_dict().items()},
       "D": {k: v.detach().cpu().clone() for k, v in models["D"].state_dict().items()},
       "opt": [o.state_dict() for o in opts]}, os.path.join(TRACK, f"params_rank{rank}.pt"))
with _open(os.path.join(TRACK, f"written_rank{rank}.json"), "w") as f:
    json.dump(sorted(set(written)), f)
'''


def _make_syncnet(path):
    sys.path.insert(0, TRAIN)
    from s3d_nerf.sync_net import SyncNet, default_crop
    torch.manual_seed(0)
    net = SyncNet(80, default_crop(64), width=8, embed=16)
    torch.save({"model": net.state_dict(), "hparams": net.hparams, "config": "tiny"}, path)


def _flat(sd):
    return {k: v for k, v in sd.items()}


def _opt_tensors(opt_sd):
    out = {}
    for i, o in enumerate(opt_sd):
        for pid, st in o["state"].items():
            for k, v in st.items():
                if torch.is_tensor(v):
                    out[f"opt{i}.{pid}.{k}"] = v
    return out


def test_torchrun_two_ranks_cpu():
    res = subprocess.run([PY, "-m", "torch.distributed.run", "--help"], capture_output=True, text=True)
    assert res.returncode == 0, f"torch.distributed.run not available for {PY}: {res.stderr[-500:]}"
    tmp = tempfile.mkdtemp(prefix="s3d_dist_test_")
    try:
        out, track = os.path.join(tmp, "run"), os.path.join(tmp, "track")
        os.makedirs(track)
        wrapper = os.path.join(tmp, "worker.py")
        with open(wrapper, "w") as f:
            f.write(WRAPPER)
        sync = os.path.join(tmp, "syncnet.pt")
        _make_syncnet(sync)
        args = ["--config", "tiny", "--data", "synthetic", "--synthetic-size", "64", "--stage", "full",
                "--steps", str(STEPS), "--batch", "2", "--lr", "1e-3", "--adv-warmup", "2", "--adv-ramp", "2",
                "--r1-every", "2", "--sync-checkpoint", sync, "--ckpt-every", "3", "--sample-every", "3",
                "--print-every", "1", "--grad-checkpoint", "--device", "cpu", "--out", out]
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        t = time.time()
        logs = os.path.join(tmp, "logs")
        res = subprocess.run([PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
                             + TORCHRUN_STD + ["--log_dir", logs, wrapper, TRAIN, track] + args, capture_output=True, text=True, env=env,
                             timeout=600, cwd=tmp)
        dt = time.time() - t
        print(f"torchrun 2 ranks, {STEPS} steps: {dt:.1f} s (rc {res.returncode})")
        assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-5000:])

        # --- only rank 0 wrote into the run directory
        w0 = json.load(open(os.path.join(track, "written_rank0.json")))
        w1 = json.load(open(os.path.join(track, "written_rank1.json")))
        in_out = lambda ps: sorted(p for p in ps if p.startswith(os.path.abspath(out) + os.sep))  # noqa: E731
        assert in_out(w1) == [], f"rank 1 wrote {in_out(w1)}"
        names = sorted(os.listdir(out))
        print("run dir:", names)
        for n in ("log.csv", "ckpt_0000003.pt", "ckpt_0000006.pt", "latest.pt", "model.safetensors",
                  "sample_0000003.png", "sample_0000006.png"):
            assert n in names, (n, names)
            assert os.path.join(os.path.abspath(out), n) in w0, n
        assert not any(n.endswith(".tmp") for n in names), names
        with open(os.path.join(out, "log.csv")) as f:
            rows = list(csv.DictReader(f))
        assert [r["step"] for r in rows] == [str(i) for i in range(1, STEPS + 1)], [r["step"] for r in rows]
        for r in rows[2:]:   # adversarial + sync terms active after the warm-up
            assert r["adv"] != "" and r["d_loss"] != "" and r["sync"] != "", r
        assert rows[3]["r1"] != "", rows[3]
        assert res.stdout.count(f"step {STEPS} ") == 1, res.stdout[-2000:]   # printed by rank 0 only

        # --- identical parameters and optimiser states on both ranks
        p0 = torch.load(os.path.join(track, "params_rank0.pt"))
        p1 = torch.load(os.path.join(track, "params_rank1.pt"))
        for part in ("G", "D"):
            assert p0[part].keys() == p1[part].keys()
            diff = [k for k in p0[part] if not torch.equal(p0[part][k], p1[part][k])]
            assert not diff, f"{part}: {len(diff)} tensors differ between ranks, e.g. {diff[:5]}"
        o0, o1 = _opt_tensors(p0["opt"]), _opt_tensors(p1["opt"])
        assert o0.keys() == o1.keys() and len(o0) > 0
        assert all(torch.equal(o0[k], o1[k]) for k in o0), "optimiser states differ"
        # rank 0's checkpoint holds exactly the final parameters; the export is their fp16 copy
        ck = torch.load(os.path.join(out, "latest.pt"))
        assert ck["step"] == STEPS
        assert all(torch.equal(ck["model"][k], p1["G"][k]) for k in p1["G"]), "checkpoint != rank 1 params"
        assert all(torch.equal(ck["disc"][k], p1["D"][k]) for k in p1["D"])
        assert isinstance(ck["rng"], list) and len(ck["rng"]) == 2
        sys.path.insert(0, TRAIN)
        from s3d_nerf import safetensors_io
        tensors, meta = safetensors_io.load(os.path.join(out, "model.safetensors"))
        assert json.loads(meta["provenance"])["world_size"] == 2
        assert all(torch.equal(tensors[k], p1["G"][k].half()) for k in p1["G"])
        # training moved the weights away from their (broadcast) initialisation
        c3 = torch.load(os.path.join(out, "ckpt_0000003.pt"))["model"]
        moved = sum(not torch.equal(c3[k], p0["G"][k]) for k in c3 if c3[k].is_floating_point())
        assert moved > len(c3) // 2, moved
        print(f"PASS: {len(p0['G'])} G + {len(p0['D'])} D tensors and {len(o0)} optimiser tensors "
              f"bit-identical across ranks; rank 1 wrote nothing in the run dir")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    t0 = time.time()
    test_torchrun_two_ranks_cpu()
    print(f"PASS test_torchrun_two_ranks_cpu ({time.time() - t0:.1f} s)")
