#!/usr/bin/python3
"""Data pipeline test: train/prepare_data.py on 2 short clips (the variable-frame-rate one
and a 29.97 fps one) into a temporary cache, then checks of its outputs, of
TalkingClipDataset, that a second run is a no-op, and .cache/test_data_grid.png (aligned
crops with landmarks, mask polygon and lip box drawn) for a visual check.

    /usr/bin/python3 -m pytest -q -rs train/tests/test_data.py
    /usr/bin/python3 train/tests/test_data.py

Needs the raw clips in ../shared/data/train (marker `data`): without them every test is
skipped with that reason. The clips are prepared once per module (8 s on 2 cores shared
with a training run); the whole file takes about 10 s.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "train"))
from s3d_nerf import alignment as A  # noqa: E402
from s3d_nerf.config import s3d_64, tiny  # noqa: E402
from s3d_nerf.dataset import TalkingClipDataset  # noqa: E402

CLIPS = ["train07_man_in_suit", "train09_hdtf_radio10"]
SRC = ROOT.parent / "shared" / "data" / "train"
MISSING = [c for c in CLIPS if not any(SRC.glob(f"*{c}*.mp4"))]
pytestmark = [pytest.mark.data,
              pytest.mark.skipif(bool(MISSING), reason=f"needs the raw clips {MISSING} in {SRC} (../shared/data)")]


def prep(out: Path) -> str:
    r = subprocess.run([sys.executable, str(ROOT / "train" / "prepare_data.py"), "--src", str(SRC), "--out", str(out),
                        "--clips", *CLIPS], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout)
    assert r.returncode == 0, r.stdout
    return r.stdout


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The 2 clips prepared once: (output dir, its manifest)."""
    out = tmp_path_factory.mktemp("data")
    prep(out)
    return out, json.loads((out / "manifest.json").read_text())


def test_manifest_has_both_clips(prepared):
    _, man = prepared
    assert len(man["clips"]) == 2 and not man["failures"], man["failures"]
    assert sorted(c for c in CLIPS if any(c in e["name"] for e in man["clips"])) == sorted(CLIPS)


@pytest.mark.parametrize("clip", CLIPS)
def test_clip_outputs(prepared, clip):
    out, man = prepared
    e = [e for e in man["clips"] if clip in e["name"]][0]
    tpl = A.template_points()
    d = out / e["dir"]
    m = np.load(d / "meta.npz")
    n = e["n_frames"]
    crops = np.load(d / "crops.npy", mmap_mode="r")
    assert crops.shape == (n, 256, 256, 3) and crops.dtype == np.uint8
    assert m["lm"].shape == (n, 68, 2) and m["pose"].shape == (n, 4, 4)
    assert m["mask_poly"].shape == (n, 27, 2) and m["lip_box"].shape == (n, 4)
    # audio/video lengths agree within one frame; mel covers the frames
    assert abs(e["n_video_25fps"] - e["n_audio_25fps"]) <= 1, e
    a16 = np.load(d / "audio16k.npy")
    assert abs(len(a16) / 16000 * 25 - n) <= 1.0
    assert np.load(d / "mel.npy").shape[0] == 80
    # frame t is the source frame nearest to t/25 s
    assert np.all(np.abs(m["src_time"] - np.arange(n) / 25) <= 0.5 / e["src_fps"] + 0.03)
    # landmarks in the crop, near the template (rigid points tightly, all points loosely)
    lm = m["lm"]
    assert lm.min() > 0 and lm.max() < 256
    err_rigid = np.linalg.norm(lm[:, A.ALIGN_IDX] - tpl[A.ALIGN_IDX], axis=-1).mean()
    err_all = np.linalg.norm(lm - tpl, axis=-1).mean()
    print(f"{e['name']}: mean landmark-template distance rigid {err_rigid:.2f} px, all {err_all:.2f} px")
    assert err_rigid < 6 and err_all < 20
    # poses rigid: R orthonormal, det 1, camera on the 2.7 sphere looking at the origin
    P = m["pose"].astype(np.float64)
    R = P[:, :3, :3]
    assert np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-4)
    assert np.allclose(np.linalg.det(R), 1, atol=1e-4)
    assert np.allclose(np.linalg.norm(P[:, :3, 3], axis=1), 2.7, atol=1e-3)
    assert np.allclose(P[:, 3], [0, 0, 0, 1])
    assert np.all(R[:, 2, 2] < -0.85), "poses should be near frontal"
    # split: last 15%
    vs = e["splits"]["val"][0]
    assert e["splits"]["train"] == [0, vs] and e["splits"]["val"][1] == n
    assert abs((n - vs) / n - 0.15) < 0.5 / n + 1e-9
    lb = m["lip_box"]
    assert np.all(lb[:, 0] < lb[:, 2]) and np.all(lb[:, 1] < lb[:, 3])
    assert np.all((lb[:, 1] > 128) & (lb[:, 3] < 256))


@pytest.mark.parametrize("split", ["train", "val"])
def test_dataset_contract(prepared, split):
    out, _ = prepared
    cfg = s3d_64()
    ds = TalkingClipDataset(out / "manifest.json", cfg, split)
    assert len(ds) > 0
    s = ds[len(ds) // 2]
    H = cfg.image_size
    shapes = {"source": (3, H, H), "source_mask": (1, H, H), "pose_src": (4, 4), "target": (5, 3, H, H),
              "pose_tar": (5, 4, 4), "mel": (5, 80, 32), "sync_mel": (80, 16), "sync_mel_neg": (80, 16),
              "lip_box": (5, 4)}
    for k, v in shapes.items():
        assert tuple(s[k].shape) == v, (k, s[k].shape)
    assert 0 <= s["source"].min() and s["source"].max() <= 1
    assert abs(s["neg_t"] - s["t0"]) >= 5
    lo, hi = [c for c in ds.clips if c.name == s["clip"]][0].splits[split]
    assert lo <= s["t0"] and s["t0"] + 5 <= hi and lo <= s["src_t"] < hi
    m = s["source_mask"].mean().item()
    assert 0.1 < m < 0.5, m
    s2 = ds[len(ds) // 2]
    assert s2["src_t"] == s["src_t"]    # deterministic per (seed, epoch, index)


def test_dataset_tiny_config(prepared):
    out, _ = prepared
    ts = TalkingClipDataset(out / "manifest.json", tiny(), "train")[0]
    assert tuple(ts["target"].shape) == (5, 3, 64, 64) and tuple(ts["source_mask"].shape) == (1, 64, 64)


def test_second_run_is_a_noop(prepared):
    """Resumable: a second run skips both clips and leaves their files untouched."""
    out, _ = prepared
    mt = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    t0 = time.time()
    log2 = prep(out)
    assert log2.count("up to date, skipped") == 2, log2
    assert {p: p.stat().st_mtime_ns for p in mt} == mt
    print(f"second run: {time.time() - t0:.1f} s (no-op)")


def test_grid_png(prepared):
    """.cache/test_data_grid.png for a visual check: written, 2 rows of 4 crops."""
    import cv2
    out, _ = prepared
    png = ROOT / ".cache" / "test_data_grid.png"
    grid(out, png)
    im = cv2.imread(str(png))
    assert im is not None and im.shape == (2 * 256, 4 * 256, 3), None if im is None else im.shape


def grid(out: Path, png: Path):
    import cv2
    man = json.loads((out / "manifest.json").read_text())
    rows = []
    for e in man["clips"]:
        d = out / e["dir"]
        m = np.load(d / "meta.npz")
        crops = np.load(d / "crops.npy", mmap_mode="r")
        n = e["n_frames"]
        tiles = []
        for t in np.linspace(0, n - 1, 4).astype(int):
            im = cv2.cvtColor(np.array(crops[t]), cv2.COLOR_RGB2BGR)
            ov = im.copy()
            ov[A.fill_mask(m["mask_poly"][t]) > 0] = (0, 160, 0)
            im = cv2.addWeighted(im, 0.75, ov, 0.25, 0)
            for p in A.template_points():
                cv2.circle(im, (int(round(p[0])), int(round(p[1]))), 1, (255, 0, 0), -1)
            for p in m["lm"][t]:
                cv2.circle(im, (int(round(p[0])), int(round(p[1]))), 1, (0, 255, 255), -1)
            x0, y0, x1, y1 = m["lip_box"][t].round().astype(int)
            cv2.rectangle(im, (x0, y0), (x1, y1), (0, 0, 255), 1)
            cv2.ellipse(im, (128, 154), (64, 61), 0, 0, 360, (255, 255, 255), 1)  # ts/mask.ts TEMPLATE_ELLIPSE
            P = m["pose"][t]
            yaw = np.degrees(np.arctan2(-P[0, 2], -P[2, 2])); pitch = np.degrees(np.arcsin(P[1, 2]))
            cv2.putText(im, f"t{t} y{yaw:+.0f} p{pitch:+.0f}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
            tiles.append(im)
        rows.append(np.concatenate(tiles, 1))
    png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(png), np.concatenate(rows, 0))
    print(f"grid: {png}")


if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "-rs", __file__]))
