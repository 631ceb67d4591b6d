"""The C++ safetensors reader and writer checked against the Python one
(train/s3d_nerf/safetensors_io.py, what exports the models), with torch doing the
fp16/bf16 conversions; used by tests/native/test_core.cc.

  python3 safetensors_fixture.py write OUT.safetensors   # F32/F16/BF16 fixture
  python3 safetensors_fixture.py check IN.safetensors    # verifies a C++-written file
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "train"))
from s3d_nerf import safetensors_io  # noqa: E402


def make_fixture(path):
    g = torch.Generator().manual_seed(1234)
    all16 = torch.arange(65536, dtype=torch.int32).to(torch.int16)
    f16_all = all16.view(torch.float16).reshape(256, 256)
    bf16_all = all16.view(torch.bfloat16)
    # Values for fp32 -> fp16/bf16 rounding: wide exponent range, plus exact
    # halfway points between neighbouring fp16 / bf16 values (ties-to-even).
    mags = torch.exp2(torch.rand(20000, generator=g) * 50 - 30)
    signs = torch.where(torch.rand(20000, generator=g) < 0.5, -1.0, 1.0)
    rnd = mags * signs
    h = torch.randint(0, 0x7BFF, (5000,), generator=g, dtype=torch.int32)
    lo = h.to(torch.int16).view(torch.float16).float()
    hi = (h + 1).to(torch.int16).view(torch.float16).float()
    ties16 = (lo + hi) / 2  # exact in fp32
    bits = torch.randint(0, 0x7F7F, (5000,), generator=g, dtype=torch.int32) * 65536 + 0x8000
    ties_bf = bits.view(torch.float32)
    specials = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), 65504.0, 65519.0, 65520.0,
                             1e-8, 2.0 ** -25, 3 * 2.0 ** -25, 1e-40, 3.4e38])
    src = torch.cat([rnd, ties16, ties_bf, specials]).float()
    f32_vals = torch.tensor([1.0, -2.5, 0.0, -0.0, float("inf"), 1e-40, 3.4028234663852886e38,
                             0.1, 123456.789], dtype=torch.float32)
    tensors = {
        "f32.vals": f32_vals,
        "f16.all": f16_all,
        "f16.all.ref": f16_all.float(),
        "bf16.all": bf16_all,
        "bf16.all.ref": bf16_all.float(),
        "round.src": src,
        "round.f16": src.half(),
        "round.bf16": src.bfloat16(),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(7.0, dtype=torch.float16),
    }
    metadata = {"format": "s3d-nerf", "note": "h\u00e9llo \U0001F600 \"q\"\n"}
    # Insertion order, not sorted: the reader must not care. Non-ASCII metadata goes
    # out as \uXXXX escapes (surrogate pairs for the emoji).
    safetensors_io.save(path, tensors, metadata, sort_names=False)


def check(path):
    t, md = safetensors_io.load(path)
    assert all(v.dtype == torch.float32 for v in t.values()), {k: v.dtype for k, v in t.items()}
    t = {k: v.numpy() for k, v in t.items()}
    assert md == {"origin": "c++", "unicode": "\u00e9\U0001F600"}, md
    assert np.array_equal(t["x"], (np.arange(12, dtype=np.float32) * 0.5 - 1).reshape(3, 4)), t["x"]
    assert t["s"].shape == () and t["s"] == np.float32(3.25)
    assert t["e"].shape == (2, 0)
    print("python check ok")


if __name__ == "__main__":
    {"write": make_fixture, "check": check}[sys.argv[1]](sys.argv[2])
