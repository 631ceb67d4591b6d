"""export.upgrade_state: a model file starts a model whose SR gate or paste differs.

    /usr/bin/python3 -m pytest -q train/tests/test_upgrade.py
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from s3d_nerf.camera import frontal_pose  # noqa: E402
from s3d_nerf.config import ModelConfig, tiny  # noqa: E402
from s3d_nerf.export import upgrade_state  # noqa: E402
from s3d_nerf.model import S3DNeRF  # noqa: E402
from s3d_nerf.super_resolution import GATE_INIT_LOGIT  # noqa: E402


def _render(model, seed=0):
    """-> rgb (1,3,S,S), the source as the SR saw it (1,3,S,S), keep (1,1,S,S)."""
    g = torch.Generator().manual_seed(seed)
    cfg = model.cfg
    s = cfg.image_size
    image = torch.rand(1, 3, s, s, generator=g)
    mask = (torch.rand(1, 1, s, s, generator=g) < 0.6).float()
    mel = torch.randn(1, cfg.audio.n_mels, cfg.audio.window_frames, generator=g)
    pose = frontal_pose()[None]
    with torch.no_grad():
        ident = model.encode_identity(image, mask, pose)
        return model.render(ident, mel, pose)[1], ident.src_image, ident.src_keep


PLAIN = dict(sr_source_gate=False, sr_paste_source=False)   # neither gate nor paste
GATED = dict(sr_source_gate=True, sr_paste_source=False)    # the first trained model's


def test_upgrade_adds_a_neutral_gate_row():
    torch.manual_seed(0)
    old_cfg = dataclasses.replace(tiny(), **PLAIN)
    new_cfg = dataclasses.replace(tiny(), **GATED)
    old = S3DNeRF(old_cfg).eval()
    new = S3DNeRF(new_cfg).eval()
    new.load_state_dict(upgrade_state(old.state_dict(), old_cfg, new_cfg))
    w = new.sr.out_rgb.weight
    assert w.shape[0] == 4 and torch.equal(w[:3], old.sr.out_rgb.weight) and not w[3].any()
    ref, _, _ = _render(old)
    got, seen, _ = _render(new)
    # g = sigmoid(GATE_INIT_LOGIT) at first: mostly the source as the SR sees it
    g = torch.sigmoid(torch.tensor(GATE_INIT_LOGIT))
    assert g > 0.9
    err = ((got - (g * seen + (1 - g) * ref)).norm() / ref.norm()).item()
    assert err < 1e-6, err
    with torch.no_grad():
        new.sr.out_rgb.bias[3] = -10.0  # g = sigmoid(-80) = 0: the old model exactly
    got, _, _ = _render(new)
    assert ((got - ref).norm() / ref.norm()).item() < 1e-6


def test_upgrade_from_the_first_model_to_the_paste():
    """The first trained file (row cut at 0.58, learned gate) starts today's config: the
    gate row is dropped and the output is its generated image inside the new hole and the
    source outside it."""
    torch.manual_seed(0)
    old_cfg = dataclasses.replace(tiny(), sr_hole=[0.0, 0.58, 1.0, 1.0], sr_hole_feather=0.0, **GATED)
    old = S3DNeRF(old_cfg).eval()
    sd = old.state_dict()
    out = upgrade_state(sd, old_cfg, tiny())
    assert out.keys() == sd.keys()
    assert out["sr.out_rgb.weight"].shape[0] == 3 and torch.equal(out["sr.out_rgb.weight"], sd["sr.out_rgb.weight"][:3])
    assert all(torch.equal(out[k], sd[k].float()) for k in sd if not k.startswith("sr.out_rgb."))
    new = S3DNeRF(tiny()).eval()
    new.load_state_dict(out)
    # the old weights with neither gate nor paste, under the new hole: the generated image
    gen_cfg = dataclasses.replace(tiny(), **PLAIN)
    gen_model = S3DNeRF(gen_cfg).eval()
    gen_model.load_state_dict(upgrade_state(sd, old_cfg, gen_cfg))
    gen, _, _ = _render(gen_model)
    got, seen, keep = _render(new)
    assert 0 < keep.mean() < 1
    want = keep * seen + (1 - keep) * gen
    assert ((got - want).norm() / want.norm()).item() < 1e-6


def test_upgrade_refuses_other_differences():
    a = dataclasses.replace(tiny(), **PLAIN)
    sd = S3DNeRF(a).state_dict()
    with pytest.raises(ValueError, match="more than sr_source_gate"):
        upgrade_state(sd, a, dataclasses.replace(tiny(), n_coarse=12))
    with pytest.raises(ValueError, match="more than sr_source_gate"):
        upgrade_state(sd, a, dataclasses.replace(tiny(), sr_out_channels=4))


def test_config_refuses_the_unreleased_hole_aware_gate():
    d = json.loads(dataclasses.replace(tiny(), **GATED).to_json())
    d["sr_gate_keep"] = True
    with pytest.raises(ValueError, match="sr_gate_keep"):
        ModelConfig.from_json(json.dumps(d))
    d["sr_gate_keep"] = False  # what files written between the two carry: the plain gate
    assert ModelConfig.from_json(json.dumps(d)).sr_source_gate
    with pytest.raises(AssertionError, match="excludes"):
        dataclasses.replace(tiny(), sr_source_gate=True).validate()
    with pytest.raises(AssertionError, match="needs an sr_hole"):
        dataclasses.replace(tiny(), sr_hole=[]).validate()
