// NHWC (channel-last) 2-D convolution, k = 1 or 3, stride 1 or 2, zero
// padding k/2, output ceil(H/stride) x ceil(W/stride): PyTorch
// F.conv2d(x, w, b, stride=stride, padding=k//2) semantics.
//
// Implicit GEMM: each register tile is up to 14 output pixels of one output
// row x 32 output channels; the K loop runs over the k*k taps, each reading
// `cin` contiguous channels of the (zero-padded) input in place. No im2col.
#pragma once
#include <vector>

#include "kernels/activation.h"
#include "kernels/gemm.h"

namespace s3d {

class ThreadPool;

// One input part, H x W x channels; parts are concatenated along channels
// in order (virtual concat).
struct ConvInput {
  const float* data;
  int channels;
};

struct Conv2d {
  int cin = 0, cout = 0, k = 3, stride = 1, taps = 9;
  PackedMatrix w;           // K = k*k*cin ordered (ky, kx, c); N = cout
  std::vector<float> bias;  // cout values, or empty
};

inline int conv2d_out_size(int n, int stride) { return (n + stride - 1) / stride; }

// weight: PyTorch (cout, cin, k, k); bias may be null.
Conv2d pack_conv2d(const float* weight, const float* bias, int cout, int cin, int k, int stride);

// Fast precision: bf16 weights, one segment per tap (gemm.h add_bf16_panels).
void add_bf16_panels(Conv2d& c);

// out: Ho x Wo x cout, Ho = ceil(H/stride). out must not overlap the inputs.
void conv2d(ThreadPool* pool, const std::vector<ConvInput>& in, int H, int W, const Conv2d& c, float* out,
            Act act, float slope = 0.2f);

}  // namespace s3d
