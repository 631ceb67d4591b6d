// Audio net (DESIGN §3.2; train/s3d_nerf/audio_net.py): fixed affine on the
// log-mel window, four 1-D convs (k3; strides 1, 2, 2, 1; LeakyReLU between),
// giving the driving tokens a_dri and, mean-pooled + linear, the audio code.
#pragma once
#include <array>
#include <vector>

#include "core/model_config.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"

namespace s3d {

class Weights;

// Maps log-mel (about [-11.5, 5]) near [-2, 2]: x = (mel + MEL_SHIFT) * MEL_SCALE.
constexpr float kMelShift = 4.0f;
constexpr float kMelScale = 0.25f;

class AudioNet {
 public:
  AudioNet(const Weights& w, const ModelConfig& cfg);  // "audio_net.*"

  // mel: (n_mels, window_frames) row-major (PyTorch layout). Writes tokens
  // (window/4, audio_channels) and code (audio_code); (re)allocated when their
  // shape differs. pool may be null.
  void forward(ThreadPool* pool, const float* mel, Tensor& tokens, Tensor& code) const;

  const ModelConfig& config() const { return cfg_; }

 private:
  struct Conv1d {
    int cin, cout, stride;
    PackedMatrix w;  // K = 3 * cin, index tap * cin + ci (im2col order)
    std::vector<float> bias;
  };
  ModelConfig cfg_;
  std::array<Conv1d, 4> convs_;
  PackedMatrix code_;
  std::vector<float> code_b_;
};

// Stage adapter on fixture layouts: mel (n_mels, window) -> tokens (T, C), code (audio_code).
TensorMap run_audio_net_stage(const AudioNet& net, ThreadPool& pool, const TensorMap& in);

}  // namespace s3d
