// Hierarchical Facial Appearance Encoder (DESIGN §3.1; train/s3d_nerf/encoder.py):
// masked source image (+2 pixel-coordinate channels) -> pyramid F^0..F^3, each
// 3 * plane_channels wide at image/2, /4, /8, /16. Channel-last throughout.
#pragma once
#include <array>

#include "core/model_config.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/conv2d.h"

namespace s3d {

class Weights;

class Encoder {
 public:
  Encoder(const Weights& w, const ModelConfig& cfg);  // "encoder.*"

  // image_hwc: H*W*3 in [0,1]; mask: H*W in [0,1] (H = W = image_size).
  // Returns F0..F3 as (h, w, 3*plane_channels) tensors.
  std::array<Tensor, 4> forward(ThreadPool& pool, const float* image_hwc, const float* mask) const;

  const ModelConfig& config() const { return cfg_; }

 private:
  ModelConfig cfg_;
  std::array<Conv2d, 4> down1_, down2_;  // stride-2 conv, then conv, per level
  std::array<Conv2d, 3> up_;             // conv after the bilinear x2, feeds level i
  std::array<Conv2d, 3> lateral_;        // 1x1 over [Up(F^{i+1}), D^i]
};

// Stage adapter on fixture layouts (see model/stages.h): image (3,H,W), mask (H,W)
// -> f0..f3 (3P, h, w).
TensorMap run_encoder_stage(const Encoder& enc, ThreadPool& pool, const TensorMap& in);

}  // namespace s3d
