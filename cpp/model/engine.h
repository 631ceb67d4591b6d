// The CPU engine: loads a model file and runs the two phases of DESIGN §1.
// All methods may throw s3d::Error (core/error.h); none touch N-API.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "core/model_config.h"
#include "core/precision.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace s3d {

class Weights;        // model/weights.h: named, validated, repacked tensors
struct IdentityState; // model/identity.h: per-photo cache (planes, slots, SR source)
struct AudioFeatures; // audio/audio_features.h: log-mel track of one recording
class AudioStreamBuilder;  // audio/audio_stream.h: the same, fed in chunks

using Mat4 = std::array<float, 16>;  // row-major 4x4 cam2world (EG3D, OpenCV axes)

// Wall-clock milliseconds of the stages of the last render_frame (for bench/).
struct FrameTimings {
  double audio_ms = 0, attention_ms = 0, nerf_ms = 0, sr_ms = 0, total_ms = 0;
};

// Wall-clock milliseconds of the stages of the last encode_identity: the
// tri-plane encoder, slot aggregation + MHCA query projection, the SR source
// branch (total also covers the tri-plane re-layout).
struct IdentityTimings {
  double encoder_ms = 0, aggregate_ms = 0, sr_source_ms = 0, total_ms = 0;
};

class Engine {
 public:
  // Loads and validates a safetensors model file (throws ErrorCode::ModelFormat
  // naming the first bad tensor). threads <= 0: one per core.
  static std::unique_ptr<Engine> load(const std::string& path, int threads, Precision precision = Precision::Exact);
  Precision precision() const;
  ~Engine();

  const ModelConfig& config() const;
  const std::string& metadata_json() const;  // the whole "__metadata__" object as JSON
  int threads() const;
  FrameTimings last_timings() const;                    // zeros before the first frame
  IdentityTimings last_identity_timings() const;        // zeros before the first identity

  // rgb: image_size^2 x 3 floats in [0,1], channel-last. mask: image_size^2 floats
  // in [0,1] (inner face). pose: source cam2world.
  std::shared_ptr<IdentityState> encode_identity(const float* rgb, const float* mask,
                                                 const Mat4& pose_src) const;

  // Mono samples at any rate; resampled to the model rate, log-mel computed.
  std::shared_ptr<AudioFeatures> prepare_audio(const float* samples, int64_t count,
                                               int sample_rate) const;
  // The same features fed in chunks (memory bounded by the log-mel track, not
  // by the input); the builder uses this engine's thread pool, so it must not
  // outlive the engine, and its calls are serialised with the engine's others
  // like any engine call.
  std::unique_ptr<AudioStreamBuilder> begin_audio(int sample_rate) const;

  // Writes image_size^2 x 3 floats (channel-last, nominally [0,1]) to out_rgb.
  void render_frame(const IdentityState& id, const AudioFeatures& audio, int64_t frame,
                    const Mat4& pose_tar, float* out_rgb) const;

  // Runs one named stage of the network on explicit inputs (PyTorch layouts,
  // as in the golden fixtures). For parity tests and debugging.
  TensorMap run_stage(const std::string& stage, const TensorMap& inputs) const;

 private:
  Engine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace s3d
