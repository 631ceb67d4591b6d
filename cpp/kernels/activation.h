// Activation functions shared by the GEMM/conv epilogues and ops.
#pragma once
#include <math.h>

#include <cmath>

#include "core/host_device.h"

namespace s3d {

enum class Act { None, Relu, LeakyRelu, Softplus, Sigmoid, Tanh };

// PyTorch's softplus (beta 1, threshold 20): x > 20 returns x. Shared with the
// CUDA kernels (the decoder's hidden layer, volume rendering's density).
S3D_HD inline float softplus(float x) { return x > 20.f ? x : log1pf(expf(x)); }

// Scalar reference semantics (the SIMD paths match these to ~1e-6 relative).
inline float act_scalar(float x, Act act, float slope = 0.2f) {
  switch (act) {
    case Act::None: return x;
    case Act::Relu: return x > 0.f ? x : 0.f;
    case Act::LeakyRelu: return x > 0.f ? x : x * slope;
    case Act::Softplus: return softplus(x);
    case Act::Sigmoid: return 1.f / (1.f + std::exp(-x));
    case Act::Tanh: return std::tanh(x);
  }
  return x;
}

}  // namespace s3d
