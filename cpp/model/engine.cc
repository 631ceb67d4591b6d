#include "model/engine.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>

#include "audio/audio_features.h"
#include "audio/audio_stages.h"
#include "audio/audio_stream.h"
#include "core/error.h"
#include "model/audio_net.h"
#include "model/cross_attention.h"
#include "model/encoder.h"
#include "model/identity.h"
#include "model/nerf_renderer.h"
#include "model/network.h"
#include "model/slot_attention.h"
#include "model/stages.h"
#include "model/super_resolution.h"
#include "model/weights.h"

namespace s3d {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

void check_pose(const Mat4& p, const char* what) {
  for (float v : p)
    if (!std::isfinite(v))
      throw Error(ErrorCode::InvalidArgument, std::string("Expected finite numbers for ") + what +
                                                  " but received a NaN or infinite entry");
}

Mat4 mat4_from(const Tensor& t) {
  Mat4 m;
  std::memcpy(m.data(), t.data, sizeof(float) * 16);
  return m;
}

}  // namespace

struct Engine::Impl {
  Weights weights;
  std::unique_ptr<Network> net;
  std::unique_ptr<ThreadPool> pool;
  std::string metadata;
  Precision precision = Precision::Exact;
  // Written by the worker running a call, read by the JS thread's getter.
  mutable std::mutex timings_mu;
  mutable FrameTimings last;
  mutable IdentityTimings last_identity;

  explicit Impl(Weights w) : weights(std::move(w)) {}

  std::shared_ptr<IdentityState> encode(const float* rgb, const float* mask, const Mat4& pose) const {
    IdentityTimings t;
    auto t0 = Clock::now();
    auto st = std::make_shared<IdentityState>();
    auto feats = net->encoder->forward(*pool, rgb, mask);
    t.encoder_ms = ms_since(t0);
    auto t1 = Clock::now();
    Tensor f_agg = net->aggregator->forward(*pool, feats);
    st->query = net->cross_attention->query(*pool, f_agg);
    t.aggregate_ms = ms_since(t1);
    auto t2 = Clock::now();
    // same mask: it cuts the mouth hole
    net->sr->source(*pool, rgb, mask, st->sr_full, st->sr_half, st->sr_seen, st->sr_keep);
    if (net->cfg.sr_paste_source) st->sr_box = net->sr->hole_box(st->sr_keep);
    t.sr_source_ms = ms_since(t2);
    st->planes = planes_from_hwc(feats, net->cfg.plane_channels, net->cfg.plane_scale());
    st->pose_src = pose;
    t.total_ms = ms_since(t0);
    {
      std::lock_guard<std::mutex> lock(timings_mu);
      last_identity = t;
    }
    return st;
  }

  // mel: (n_mels, window) PyTorch layout. Returns rgb (H, W, 3); coarse out if asked.
  // With sr_paste_source the frame is the photo outside the mouth hole, so unless
  // the whole coarse image is asked for, only the hole's box is rendered: the NeRF
  // casts the rays of its coarse window and the SR runs on that crop.
  Tensor render(const IdentityState& id, const float* mel, const Mat4& pose_tar, Tensor* coarse_out) const {
    FrameTimings t;
    auto t0 = Clock::now();
    Tensor tokens, code;
    net->audio_net->forward(pool.get(), mel, tokens, code);
    t.audio_ms = ms_since(t0);
    auto t1 = Clock::now();
    Tensor cm = net->cross_attention->forward(*pool, id.query, tokens);
    t.attention_ms = ms_since(t1);
    auto t2 = Clock::now();
    const bool windowed = net->cfg.sr_paste_source && !coarse_out;
    const PixelBox window = windowed ? net->sr->coarse_window(id.sr_box) : PixelBox{};
    Tensor coarse = net->renderer->render(*pool, id.planes, cm, code.data, id.pose_src, pose_tar, nullptr,
                                          windowed ? &window : nullptr);
    t.nerf_ms = ms_since(t2);
    auto t3 = Clock::now();
    Tensor rgb = windowed
                     ? net->sr->forward_window(*pool, coarse, id.sr_full, id.sr_half, id.sr_seen, id.sr_keep, id.sr_box)
                     : net->sr->forward(*pool, coarse, id.sr_full, id.sr_half, id.sr_seen, id.sr_keep);
    t.sr_ms = ms_since(t3);
    t.total_ms = ms_since(t0);
    {
      std::lock_guard<std::mutex> lock(timings_mu);
      last = t;
    }
    if (coarse_out) *coarse_out = coarse;
    return rgb;
  }

  TensorMap frame_stage(const TensorMap& in) const {
    const ModelConfig& c = net->cfg;
    const int64_t H = c.image_size;
    Tensor image = chw_to_hwc(stage_input(in, "image", {3, H, H}));
    const Tensor& mask = stage_input(in, "mask", {H, H});
    Mat4 ps = mat4_from(stage_input(in, "pose_src", {4, 4}));
    Mat4 pt = mat4_from(stage_input(in, "pose_tar", {4, 4}));
    const Tensor& mel = stage_input(in, "mel", {c.audio.n_mels, c.audio.window_frames});
    auto id = encode(image.data, mask.data, ps);
    Tensor coarse;
    Tensor rgb = render(*id, mel.data, pt, &coarse);
    return {{"rgb", hwc_to_chw(rgb)}, {"coarse", hwc_to_chw(coarse)}};
  }
};

Engine::Engine() = default;
Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::load(const std::string& path, int threads, Precision precision) {
  std::unique_ptr<Engine> e(new Engine());
  e->impl_ = std::make_unique<Impl>(Weights::load(path));
  e->impl_->net = std::make_unique<Network>(e->impl_->weights, precision);
  e->impl_->precision = precision;
  e->impl_->pool = std::make_unique<ThreadPool>(threads);
  return e;
}

const ModelConfig& Engine::config() const { return impl_->net->cfg; }
const std::string& Engine::metadata_json() const { return impl_->weights.metadata_json(); }
int Engine::threads() const { return impl_->pool->size(); }
Precision Engine::precision() const { return impl_->precision; }
FrameTimings Engine::last_timings() const {
  std::lock_guard<std::mutex> lock(impl_->timings_mu);
  return impl_->last;
}
IdentityTimings Engine::last_identity_timings() const {
  std::lock_guard<std::mutex> lock(impl_->timings_mu);
  return impl_->last_identity;
}

std::shared_ptr<IdentityState> Engine::encode_identity(const float* rgb, const float* mask,
                                                       const Mat4& pose_src) const {
  check_pose(pose_src, "the source pose");
  return impl_->encode(rgb, mask, pose_src);
}

std::shared_ptr<AudioFeatures> Engine::prepare_audio(const float* samples, int64_t count,
                                                     int sample_rate) const {
  return compute_audio_features(impl_->pool.get(), samples, count, sample_rate, config().audio);
}

std::unique_ptr<AudioStreamBuilder> Engine::begin_audio(int sample_rate) const {
  return std::make_unique<AudioStreamBuilder>(impl_->pool.get(), sample_rate, config().audio);
}

void Engine::render_frame(const IdentityState& id, const AudioFeatures& audio, int64_t frame,
                          const Mat4& pose_tar, float* out_rgb) const {
  check_pose(pose_tar, "the target pose");
  if (frame < 0 || frame >= audio.frame_count)
    throw Error(ErrorCode::InvalidArgument, "Expected an integer between 0 and " +
                                                std::to_string(audio.frame_count - 1) +
                                                " for frame but received " + std::to_string(frame));
  const AudioFrontEnd& fe = config().audio;
  std::vector<float> mel(static_cast<size_t>(fe.n_mels) * fe.window_frames);
  deform_window(audio, frame, fe, mel.data());
  Tensor rgb = impl_->render(id, mel.data(), pose_tar, nullptr);
  std::memcpy(out_rgb, rgb.data, sizeof(float) * rgb.numel());
}

TensorMap Engine::run_stage(const std::string& stage, const TensorMap& inputs) const {
  using Fn = std::function<TensorMap(const TensorMap&)>;
  const Network& net = *impl_->net;
  ThreadPool& pool = *impl_->pool;
  auto wrap = [&](TensorMap (*f)(const Network&, ThreadPool&, const TensorMap&)) -> Fn {
    return [&net, &pool, f](const TensorMap& in) { return f(net, pool, in); };
  };
  // Audio front-end stages (audio/audio_stages.h) use the model's front-end config.
  auto wrap_audio = [&](TensorMap (*f)(const AudioFrontEnd&, ThreadPool&, const TensorMap&)) -> Fn {
    return [&net, &pool, f](const TensorMap& in) { return f(net.cfg.audio, pool, in); };
  };
  const std::map<std::string, Fn> stages = {
      // Named after the stage's file (cpp/model/<name>.h, train/s3d_nerf/<name>.py), or
      // <file>_<part> where a file has two checked entry points; frame: the whole pipeline.
      {"encoder", wrap(run_encoder_stage)},
      {"slot_attention", wrap(run_slot_attention_stage)},
      {"audio_net", wrap(run_audio_net_stage)},
      {"cross_attention", wrap(run_cross_attention_stage)},
      {"deformation_field", wrap(run_deformation_field_stage)},
      {"triplane_decoder", wrap(run_triplane_decoder_stage)},
      {"volume_render", wrap(run_volume_render_stage)},
      {"volume_render_importance", wrap(run_volume_render_importance_stage)},
      {"nerf_renderer", wrap(run_nerf_renderer_stage)},
      {"super_resolution_source", wrap(run_super_resolution_source_stage)},
      {"super_resolution", wrap(run_super_resolution_stage)},
      {"frame", [this](const TensorMap& in) { return impl_->frame_stage(in); }},
      {"resample", wrap_audio(run_resample_stage)},
      {"log_mel", wrap_audio(run_log_mel_stage)},
      {"deform_window", wrap_audio(run_deform_window_stage)},
      {"audio_features", wrap_audio(run_audio_features_stage)},
  };
  auto it = stages.find(stage);
  if (it == stages.end()) {
    std::string names;
    for (auto& kv : stages) names += (names.empty() ? "" : ", ") + kv.first;
    throw Error(ErrorCode::InvalidArgument,
                "Expected one of " + names + " for stage but received \"" + stage + "\"");
  }
  return it->second(inputs);
}

}  // namespace s3d
