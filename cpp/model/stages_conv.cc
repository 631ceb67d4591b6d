// Stage adapters for the conv / attention modules (model/stages.h): fixture
// layouts (PyTorch, batch dropped) in and out, channel-last inside. Each
// module header also declares an overload taking the module itself, so the
// native tests can run the adapters without a whole Network.
#include <string>

#include "model/audio_net.h"
#include "model/cross_attention.h"
#include "model/encoder.h"
#include "model/network.h"
#include "model/slot_attention.h"
#include "model/stages.h"
#include "model/super_resolution.h"

namespace s3d {

namespace {

// Channel-last copy of a (C, h, w) pyramid level.
std::array<Tensor, 4> pyramid_input(const ModelConfig& cfg, const TensorMap& in) {
  std::array<Tensor, 4> f;
  int s = cfg.image_size / 2;
  for (int i = 0; i < 4; ++i, s /= 2)
    f[i] = chw_to_hwc(stage_input(in, "f" + std::to_string(i), {cfg.pyramid_channels(), s, s}));
  return f;
}

}  // namespace

TensorMap run_encoder_stage(const Encoder& enc, ThreadPool& pool, const TensorMap& in) {
  const ModelConfig& cfg = enc.config();
  const int H = cfg.image_size;
  Tensor image = chw_to_hwc(stage_input(in, "image", {3, H, H}));
  const Tensor& mask = stage_input(in, "mask", {H, H});
  std::array<Tensor, 4> f = enc.forward(pool, image.data, mask.data);
  TensorMap out;
  for (int i = 0; i < 4; ++i) out["f" + std::to_string(i)] = hwc_to_chw(f[i]);
  return out;
}

TensorMap run_slot_attention_stage(const Aggregator& agg, ThreadPool& pool, const TensorMap& in) {
  return {{"f_agg", agg.forward(pool, pyramid_input(agg.config(), in))}};
}

TensorMap run_audio_net_stage(const AudioNet& net, ThreadPool& pool, const TensorMap& in) {
  const ModelConfig& cfg = net.config();
  const Tensor& mel = stage_input(in, "mel", {cfg.audio.n_mels, cfg.audio.window_frames});
  Tensor tokens, code;
  net.forward(&pool, mel.data, tokens, code);
  return {{"tokens", tokens}, {"code", code}};
}

TensorMap run_cross_attention_stage(const CrossAttention& ca, ThreadPool& pool, const TensorMap& in) {
  const ModelConfig& cfg = ca.config();
  const int s = cfg.slot_grid() * cfg.slot_grid();
  const Tensor& f_agg = stage_input(in, "f_agg", {s, cfg.slot_dim});
  const Tensor& tokens = stage_input(in, "tokens", {cfg.audio_tokens, cfg.audio_channels});
  return {{"cm", hwc_to_chw(ca.forward(pool, ca.query(pool, f_agg), tokens))}};
}

TensorMap run_super_resolution_source_stage(const SuperResolution& sr, ThreadPool& pool, const TensorMap& in) {
  const int H = sr.config().image_size;
  Tensor image = chw_to_hwc(stage_input(in, "image", {3, H, H}));
  const Tensor& mask = stage_input(in, "mask", {H, H});  // inner-face mask: the mouth hole
  Tensor full, half, seen, keep;
  sr.source(pool, image.data, mask.data, full, half, seen, keep);
  TensorMap out = {{"full", hwc_to_chw(full)}, {"half", hwc_to_chw(half)}, {"seen", hwc_to_chw(seen)}};
  if (sr.config().sr_paste_source) out["keep"] = hwc_to_chw(keep);
  return out;
}

TensorMap run_super_resolution_stage(const SuperResolution& sr, ThreadPool& pool, const TensorMap& in) {
  const ModelConfig& cfg = sr.config();
  const int r = cfg.render_size, H = cfg.image_size;
  Tensor coarse = chw_to_hwc(stage_input(in, "coarse", {cfg.coarse_channels(), r, r}));
  Tensor full = chw_to_hwc(stage_input(in, "full", {cfg.sr_source_channels[0], H, H}));
  Tensor half = chw_to_hwc(stage_input(in, "half", {cfg.sr_source_channels[1], H / 2, H / 2}));
  Tensor seen, keep;  // seen: read with the gate or the paste; keep: with the paste
  if (cfg.sr_source_gate || cfg.sr_paste_source) seen = chw_to_hwc(stage_input(in, "seen", {3, H, H}));
  if (cfg.sr_paste_source) keep = chw_to_hwc(stage_input(in, "keep", {1, H, H}));
  return {{"rgb", hwc_to_chw(sr.forward(pool, coarse, full, half, seen, keep))}};
}

// Network-level adapters (model/stages.h).
TensorMap run_encoder_stage(const Network& net, ThreadPool& pool, const TensorMap& in) {
  return run_encoder_stage(*net.encoder, pool, in);
}
TensorMap run_slot_attention_stage(const Network& net, ThreadPool& pool, const TensorMap& in) {
  return run_slot_attention_stage(*net.aggregator, pool, in);
}
TensorMap run_audio_net_stage(const Network& net, ThreadPool& pool, const TensorMap& in) {
  return run_audio_net_stage(*net.audio_net, pool, in);
}
TensorMap run_cross_attention_stage(const Network& net, ThreadPool& pool, const TensorMap& in) {
  return run_cross_attention_stage(*net.cross_attention, pool, in);
}
TensorMap run_super_resolution_source_stage(const Network& net, ThreadPool& pool, const TensorMap& in) {
  return run_super_resolution_source_stage(*net.sr, pool, in);
}
TensorMap run_super_resolution_stage(const Network& net, ThreadPool& pool, const TensorMap& in) {
  return run_super_resolution_stage(*net.sr, pool, in);
}

}  // namespace s3d
