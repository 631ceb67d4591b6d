"""Model hyper-parameters (DESIGN §3), serialised as JSON into the safetensors metadata
under "config". The source of truth: cpp/core/model_config.{h,cc}, ts/config.ts and
cuda/nerf_renderer.cuh (CudaNerfDims) copy it, and train/tests/test_config_sync.py fails
when a field, type, s3d-64 default or older-file default differs there."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import List


@dataclass
class AudioConfig:
    kind: str = "logmel"
    sample_rate: int = 16000
    n_fft: int = 800
    hop: int = 200
    n_mels: int = 80
    f_min: float = 55.0
    f_max: float = 7600.0
    log_floor: float = 1e-5
    window_frames: int = 32
    fps: int = 25


@dataclass
class ModelConfig:
    name: str = "s3d-64"
    image_size: int = 256
    enc_channels: List[int] = field(default_factory=lambda: [64, 128, 256, 96])
    plane_channels: int = 32
    lrelu_slope: float = 0.2
    slot_dim: int = 256
    slot_iters: int = 3
    slot_mlp: int = 512
    audio_channels: int = 256
    audio_tokens: int = 8
    audio_code: int = 64
    heads: int = 8
    cm_channels: int = 64
    pe_freqs: int = 6
    deform_hidden: List[int] = field(default_factory=lambda: [128, 64, 32])
    decoder_hidden: int = 64
    feat_channels: int = 32
    render_size: int = 64
    n_coarse: int = 24          # 48+48 before issue 10: halved for 2-core training and real-time CPU rendering
    n_importance: int = 24
    ray_near: float = 2.25
    ray_far: float = 3.3
    focal: float = 4.2647
    cam_radius: float = 2.7
    # Tri-plane box [-e, e]^3 and its orientation [ours]. e = cam_radius / (2 focal)
    # and y pointing down make the XY plane (and the F_cm map) line up with the encoder's
    # pixel grid under the frontal camera: the point seen at pixel (u, v) is sampled at
    # the same (u, v) of the plane. A conv encoder cannot learn a vertical flip or a
    # 0.63x rescale of its own output; with e = 0.5 and y up (the first design, still
    # what model files without these keys mean) the face used the middle third of each
    # plane, upside down.
    plane_extent: float = 0.3166
    plane_y_down: bool = True
    sr_source_channels: List[int] = field(default_factory=lambda: [32, 64])
    sr_mid_channels: int = 128
    sr_out_channels: int = 64
    # The SR source sees mid-grey for the inner face inside this box [x0, y0, x1, y1]
    # (fractions of the aligned crop; [] = off), ramped over sr_hole_feather at its edges
    # [ours]. Over the prepared data the padded lip box lies within x 0.34..0.65 and
    # y 0.56..0.80 (0.5th..99.5th percentiles); the box adds room for the jaw to drop.
    sr_hole: List[float] = field(default_factory=lambda: [0.31, 0.53, 0.69, 0.86])
    sr_hole_feather: float = 0.04
    # The SR's last 1x1 conv also predicts a per-pixel gate g, and the output is
    # g * source + (1 - g) * generated, with the source as the SR branch sees it (mouth
    # hidden) [ours]. Without it the SR re-synthesises every pixel through two 3x3 convs
    # and after 3.8k CPU steps the whole frame, eyes and background included, was blurred.
    # The first trained model (7k steps) has it; its gate stayed near its 0.95 start.
    sr_source_gate: bool = False
    # No gate: the output is keep * source + (1 - keep) * generated, keep = 1 - the mouth
    # hole, i.e. the photo outside the hole and generated inside it, as in Wav2Lip
    # [ours]. Inference renders the photo's own pose, so outside the mouth the photo is
    # the answer. A learned gate multiplied by keep fell to 0.5-0.7 over held-out faces
    # and blurred them (training targets move their heads relative to the source, and
    # there a blurred face beats a misplaced copy). Needs sr_hole; excludes sr_source_gate.
    sr_paste_source: bool = True
    audio: AudioConfig = field(default_factory=AudioConfig)

    # derived sizes
    @property
    def plane_scale(self) -> tuple:
        """World point -> plane grid coordinates in [-1, 1]: q = p * plane_scale."""
        s = 1.0 / self.plane_extent
        return (s, -s if self.plane_y_down else s, s)

    @property
    def pyramid_channels(self) -> int:
        return 3 * self.plane_channels

    @property
    def slot_grid(self) -> int:
        return self.image_size // 16

    @property
    def mid_size(self) -> int:
        return self.image_size // 2

    @property
    def pe_dim(self) -> int:
        return 3 + 6 * self.pe_freqs

    @property
    def deform_in(self) -> int:
        return self.pe_dim + self.cm_channels + self.audio_code

    @property
    def point_feat(self) -> int:
        return 4 * self.plane_channels

    @property
    def coarse_channels(self) -> int:
        return 3 + self.feat_channels + 1

    def validate(self) -> "ModelConfig":
        assert self.image_size % 16 == 0, "image_size must be divisible by 16"
        assert self.render_size * 4 == self.image_size, "render_size must be image_size / 4"
        assert len(self.enc_channels) == 4 and self.enc_channels[3] == self.pyramid_channels
        assert self.audio_tokens * 4 == self.audio.window_frames
        assert self.slot_dim % self.heads == 0
        assert len(self.deform_hidden) == 3 and len(self.sr_source_channels) == 2
        assert self.ray_near < self.ray_far
        assert len(self.sr_hole) in (0, 4), "sr_hole is [] or [x0, y0, x1, y1]"
        if self.sr_hole:
            x0, y0, x1, y1 = self.sr_hole
            assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0, "sr_hole must be a box inside [0, 1]"
        assert 0.0 <= self.sr_hole_feather < 1.0
        assert not (self.sr_source_gate and self.sr_paste_source), "sr_paste_source excludes sr_source_gate"
        assert self.sr_hole or not self.sr_paste_source, "sr_paste_source needs an sr_hole"
        assert self.plane_extent > 0
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> "ModelConfig":
        d = json.loads(text)
        d["audio"] = AudioConfig(**d["audio"])
        if "sr_hole" not in d:  # models exported before the box: every inner-face row below sr_hide_below
            below = d.pop("sr_hide_below", 0.0)
            d["sr_hole"] = [0.0, below, 1.0, 1.0] if below > 0 else []
            d["sr_hole_feather"] = 0.0
        d.pop("sr_hide_below", None)
        d.setdefault("plane_extent", 0.5)
        d.setdefault("plane_y_down", False)
        d.setdefault("sr_source_gate", False)
        if d.pop("sr_gate_keep", False):
            raise ValueError("sr_gate_keep (a hole-aware learned gate, never released) is not supported: "
                             "convert the file with export.upgrade_state to sr_paste_source")
        d.setdefault("sr_paste_source", False)
        return ModelConfig(**d).validate()


def s3d_64() -> ModelConfig:
    return ModelConfig().validate()


def tiny() -> ModelConfig:
    """Small enough for golden fixtures (a few MB) yet exercising every code path."""
    return ModelConfig(
        name="tiny", image_size=64, enc_channels=[8, 16, 24, 12], plane_channels=4,
        slot_dim=16, slot_iters=2, slot_mlp=32, audio_channels=16, audio_tokens=8,
        audio_code=8, heads=2, cm_channels=8, deform_hidden=[16, 8, 4], decoder_hidden=16,
        feat_channels=8, render_size=16, n_coarse=8, n_importance=8,
        sr_source_channels=[8, 8], sr_mid_channels=16, sr_out_channels=8,
        sr_hole=[0.25, 0.5, 0.75, 0.9], sr_hole_feather=0.1,
    ).validate()


CONFIGS = {"s3d-64": s3d_64, "tiny": tiny}
