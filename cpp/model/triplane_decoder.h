// Tri-plane decoder (DESIGN §3.3, EG3D's OSGDecoder; mirrors
// train/s3d_nerf/triplane_decoder.py). Weights "decoder.*".
// fc1 4C -> hidden + softplus, fc2 hidden -> 1 + F; sigma_raw = out[0],
// feat = sigmoid(out[1:]) * (1 + 2e-3) - 1e-3.
#pragma once
#include <cstddef>

#include "core/model_config.h"
#include "core/precision.h"
#include "core/tensor.h"
#include "kernels/gemm.h"

namespace s3d {

class Weights;

class TriplaneDecoder {
 public:
  TriplaneDecoder(const Weights& w, const ModelConfig& cfg, Precision precision = Precision::Exact);

  int in_dim() const { return in_; }
  int hidden() const { return hidden_; }
  int feat_channels() const { return feat_; }

  // n feature rows (stride ldf) -> out rows (stride ldo >= F + 1) laid out as
  // [feat (F) | sigma_raw]: feat first so it stays aligned for the compositor.
  void forward(int n, const float* f, int ldf, float* scratch, float* out, int ldo) const;
  size_t scratch_floats(int n) const { return static_cast<size_t>(n) * hidden_; }

  // Convenience (tests/stage adapter): (n, 4C) -> sigma (n), feat (n, F).
  void run(const Tensor& feats, Tensor* sigma, Tensor* feat) const;

 private:
  int in_, hidden_, feat_;
  // fc2 split: the F feature rows (sigmoid in the GEMM epilogue) and the
  // sigma row (N = 1 takes the GEMM's dot-product path, no padded panel).
  PackedMatrix fc1_, fc2_feat_, fc2_sigma_;
  Tensor b1_, b2_feat_, b2_sigma_;
};

}  // namespace s3d
