"""export.upgrade_state: a model file from before the SR source gate starts a gated model.

    /usr/bin/python3 -m pytest -q train/tests/test_upgrade.py
"""
from __future__ import annotations

import dataclasses
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from s3d_nerf.camera import frontal_pose  # noqa: E402
from s3d_nerf.config import tiny  # noqa: E402
from s3d_nerf.export import upgrade_state  # noqa: E402
from s3d_nerf.model import S3DNeRF  # noqa: E402
from s3d_nerf.super_resolution import GATE_INIT_LOGIT  # noqa: E402


def _render(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    cfg = model.cfg
    s = cfg.image_size
    image = torch.rand(1, 3, s, s, generator=g)
    mask = (torch.rand(1, 1, s, s, generator=g) < 0.6).float()
    mel = torch.randn(1, cfg.audio.n_mels, cfg.audio.window_frames, generator=g)
    pose = frontal_pose()[None]
    with torch.no_grad():
        ident = model.encode_identity(image, mask, pose)
        return model.render(ident, mel, pose)[1], ident.src_image


def test_upgrade_adds_a_neutral_gate_row():
    torch.manual_seed(0)
    old_cfg = dataclasses.replace(tiny(), sr_source_gate=False, sr_gate_keep=False)
    new_cfg = dataclasses.replace(tiny(), sr_gate_keep=False)  # g blends seen in everywhere
    old = S3DNeRF(old_cfg).eval()
    new = S3DNeRF(new_cfg).eval()
    new.load_state_dict(upgrade_state(old.state_dict(), old_cfg, new_cfg))
    w = new.sr.out_rgb.weight
    assert w.shape[0] == 4 and torch.equal(w[:3], old.sr.out_rgb.weight) and not w[3].any()
    ref, _ = _render(old)
    got, seen = _render(new)
    # g = sigmoid(GATE_INIT_LOGIT) at first: mostly the source as the SR sees it
    g = torch.sigmoid(torch.tensor(GATE_INIT_LOGIT))
    assert g > 0.9
    err = ((got - (g * seen + (1 - g) * ref)).norm() / ref.norm()).item()
    assert err < 1e-6, err
    with torch.no_grad():
        new.sr.out_rgb.bias[3] = -10.0  # g = sigmoid(-80) = 0: the old model exactly
    got, _ = _render(new)
    assert ((got - ref).norm() / ref.norm()).item() < 1e-6


def test_upgrade_takes_a_new_mouth_hole_and_keep_gate():
    """The first trained file (row cut at 0.58, gate without keep) starts today's config:
    same tensors, only the hole and the gate's use of it change."""
    old_cfg = dataclasses.replace(tiny(), sr_hole=[0.0, 0.58, 1.0, 1.0], sr_hole_feather=0.0, sr_gate_keep=False)
    sd = S3DNeRF(old_cfg).state_dict()
    out = upgrade_state(sd, old_cfg, tiny())
    assert out.keys() == sd.keys() and all(torch.equal(out[k], sd[k].float()) for k in sd)
    S3DNeRF(tiny()).load_state_dict(out)


def test_upgrade_refuses_other_differences():
    a = dataclasses.replace(tiny(), sr_source_gate=False, sr_gate_keep=False)
    sd = S3DNeRF(a).state_dict()
    with pytest.raises(ValueError, match="more than sr_source_gate"):
        upgrade_state(sd, a, dataclasses.replace(tiny(), n_coarse=12))
    with pytest.raises(ValueError, match="more than sr_source_gate"):
        upgrade_state(S3DNeRF(tiny()).state_dict(), tiny(), a)  # gate on -> off
