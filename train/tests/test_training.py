"""Training smoke tests (tiny config, synthetic data, CPU). Runs under pytest or plainly:

    /usr/bin/python3 -m pytest -q -s train/tests/test_training.py
    /usr/bin/python3 train/tests/test_training.py

(a) generator autoencoder stage: pixel loss falls (last-20 mean < 0.7 x first-20 mean)
(b) SyncNet pre-training reaches > 70 % validation accuracy (in-sync vs >= 5-frame shift);
    marked `slow` (minutes), deselected in CI with -m "not slow"
(c) checkpoint -> resume continues at the same step with identical losses (full stage,
    adversarial + R1 + sync loss active; the frozen SyncNet is a 2-step one)
(d) the exported fp16 file loads in the C++ engine through the npm API and renders a frame
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.dirname(HERE)
ROOT = os.path.dirname(TRAIN)
sys.path.insert(0, TRAIN)
import train as trainer  # noqa: E402

torch.set_num_threads(2)
_TMP = tempfile.mkdtemp(prefix="s3d_train_test_")
NUMBERS = {}


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _mean(rows, key):
    v = [float(r[key]) for r in rows]
    return sum(v) / len(v)


def _ae_run():
    out = os.path.join(_TMP, "ae")
    if not os.path.exists(os.path.join(out, "model.safetensors")):
        trainer.main(["--config", "tiny", "--data", "synthetic", "--synthetic-size", "1024", "--stage", "autoencoder",
                      "--steps", "200", "--batch", "4", "--lr", "1e-3", "--adv", "0", "--out", out,
                      "--ckpt-every", "0", "--sample-every", "200", "--print-every", "50"])
    return out


def _sync_run():
    out = os.path.join(_TMP, "sync")
    if not os.path.exists(os.path.join(out, "syncnet.pt")):
        res = trainer.main(["sync", "--config", "tiny", "--data", "synthetic", "--synthetic-size", "2048",
                            "--steps", "250", "--batch", "16", "--lr", "1e-3", "--sync-width", "16",
                            "--sync-embed", "64", "--eval-every", "125", "--out", out])
        NUMBERS["sync"] = res
    return out


def test_a_generator_pixel_loss_falls():
    t = time.time()
    out = _ae_run()
    rows = _rows(os.path.join(out, "log.csv"))
    assert len(rows) == 200
    pix = [{"p": float(r["pix_coarse"]) + float(r["pix_fine"])} for r in rows]
    first, last = _mean(pix[:20], "p"), _mean(pix[-20:], "p")
    NUMBERS["generator"] = {"pix_first20": first, "pix_last20": last, "ratio": last / first,
                            "fine_first20": _mean(rows[:20], "pix_fine"), "fine_last20": _mean(rows[-20:], "pix_fine"),
                            "coarse_first20": _mean(rows[:20], "pix_coarse"),
                            "coarse_last20": _mean(rows[-20:], "pix_coarse"), "seconds": time.time() - t}
    print("generator:", NUMBERS["generator"])
    assert last < 0.7 * first, (first, last)
    assert os.path.exists(os.path.join(out, "sample_0000200.png"))


# 250 SyncNet steps + validation: 336 s on 2 busy cores (pytest --durations); CI deselects it.
@pytest.mark.slow
def test_b_syncnet_pretraining_accuracy():
    t = time.time()
    out = _sync_run()
    ck = torch.load(os.path.join(out, "syncnet.pt"))
    NUMBERS.setdefault("sync", {}).update(ck["val"], seconds=time.time() - t)
    print("sync:", NUMBERS["sync"])
    assert ck["val"]["val_acc"] > 0.7, ck["val"]


def _sync_quick():
    """A 2-step SyncNet checkpoint (train.py's own format): enough for a frozen sync loss,
    in seconds instead of test_b's minutes."""
    out = os.path.join(_TMP, "sync_quick")
    if not os.path.exists(os.path.join(out, "syncnet.pt")):
        trainer.main(["sync", "--config", "tiny", "--data", "synthetic", "--synthetic-size", "64", "--steps", "2",
                      "--batch", "4", "--sync-width", "16", "--sync-embed", "64", "--eval-every", "2", "--out", out])
    return out


def test_c_checkpoint_resume_identical():
    sync = os.path.join(_sync_quick(), "syncnet.pt")
    common = ["--config", "tiny", "--data", "synthetic", "--synthetic-size", "64", "--stage", "full",
              "--steps", "6", "--batch", "2", "--adv-warmup", "2", "--adv-ramp", "2", "--r1-every", "2",
              "--fm-weight", "1", "--sync-checkpoint", sync, "--ckpt-every", "3", "--sample-every", "0",
              "--print-every", "100", "--grad-checkpoint"]
    a = os.path.join(_TMP, "resume_a")
    b = os.path.join(_TMP, "resume_b")
    trainer.main(common + ["--out", a])
    os.makedirs(b)
    shutil.copyfile(os.path.join(a, "ckpt_0000003.pt"), os.path.join(b, "latest.pt"))
    torch.manual_seed(12345)  # the resumed run must not depend on the caller's RNG
    trainer.main(common + ["--out", b, "--resume", "auto"])
    ra, rb = _rows(os.path.join(a, "log.csv")), _rows(os.path.join(b, "log.csv"))
    assert [r["step"] for r in rb] == ["4", "5", "6"], [r["step"] for r in rb]
    for x, y in zip(ra[3:], rb):
        for k in ("total", "pix_fine", "sync", "adv", "d_loss"):
            assert x[k] != "" and x[k] == y[k], (k, x[k], y[k])
    NUMBERS["resume"] = {"step4_total_a": ra[3]["total"], "step4_total_b": rb[0]["total"],
                         "step6_total_a": ra[5]["total"], "step6_total_b": rb[2]["total"]}
    print("resume:", NUMBERS["resume"])


def test_e_patch_adversarial_and_resized_discriminator():
    """Patch training with the adversarial term: D judges the 4*patch-pixel target crops;
    a checkpoint whose D was built for whole frames resumes with a fresh D."""
    common = ["--config", "tiny", "--data", "synthetic", "--synthetic-size", "64", "--stage", "full",
              "--batch", "1", "--ckpt-every", "2", "--sample-every", "0", "--print-every", "100"]
    a = os.path.join(_TMP, "patch_adv")
    trainer.main(common + ["--steps", "2", "--adv", "0", "--out", a])            # whole-frame D (64 px)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        trainer.main(common + ["--steps", "4", "--patch", "4", "--adv", "1", "--adv-warmup", "2", "--adv-ramp", "1",
                               "--adv-weight", "0.01", "--out", a, "--resume", "auto"])
    assert "starting a fresh one" in out.getvalue(), out.getvalue()
    rows = _rows(os.path.join(a, "log.csv"))
    assert [r["step"] for r in rows][-2:] == ["3", "4"]
    for r in rows[-2:]:
        assert r["adv"] != "" and r["d_loss"] != "", r
        assert float(r["adv"]) > 0


NODE_SCRIPT = r"""
const { createSession } = await import(process.argv[1]);
const model = process.argv[2];
const s = await createSession({ model, threads: 2 });
const n = s.config.image_size ?? 64;
const data = new Uint8Array(n * n * 3);
for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
const id = await s.encodeIdentity({ data, width: n, height: n, channels: 3 }, { aligned: true });
const sr = 16000, samples = new Float32Array(sr / 2);
for (let i = 0; i < samples.length; i++) samples[i] = 0.3 * Math.sin(2 * Math.PI * 220 * i / sr);
const audio = await s.prepareAudio({ samples, sampleRate: sr });
const f = await s.renderFrame(id, { audio, frame: 3, format: 'float32' });
let sum = 0, finite = true;
for (const v of f.data) { if (!Number.isFinite(v)) finite = false; sum += v; }
console.log(JSON.stringify({ width: f.width, height: f.height, finite, mean: sum / f.data.length,
  provenance: JSON.parse(s.metadata?.provenance ?? '{}').steps ?? null }));
await s.dispose();
"""


def test_d_export_loads_in_engine():
    path = os.path.join(_ae_run(), "model.safetensors")
    node = shutil.which("node")
    assert node, "node not found"
    res = subprocess.run([node, "--input-type=module", "-e", NODE_SCRIPT, os.path.join(ROOT, "lib", "index.js"), path],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads(res.stdout.strip().splitlines()[-1])
    NUMBERS["engine"] = info
    print("engine:", info)
    assert info["width"] == 64 and info["height"] == 64 and info["finite"]


if __name__ == "__main__":
    t0 = time.time()
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            t = time.time()
            fn()
            print(f"PASS {name} ({time.time() - t:.1f} s)", flush=True)
    print(json.dumps(NUMBERS, indent=1, default=str))
    print(f"all passed in {time.time() - t0:.1f} s")
    shutil.rmtree(_TMP, ignore_errors=True)
