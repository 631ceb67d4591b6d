// Deformation field: the U-Net-like deformation MLP (paper Eq. 4, DESIGN §3.2;
// mirrors DeformationField in train/s3d_nerf/deformation_field.py). Weights "deform.*".
//
// Input row per point: [gamma(x_s) (pe_dim) | F_cm(2 x, 2 y) (cm) | code (A)].
// The code is the same for every point of a frame, so its part of e1 is
// folded into e1's bias once per frame (fold_code) and e1 runs with
// K = pe_dim + cm only. Layers: e1 in->h0, e2 h0->h1, e3 h1->h2, d1 h2->h1,
// d2 [d1, e2] -> h0, d3 [d2, e1] -> 3, ReLU except on d3. gamma(x) is
// kernels/posenc.h, the F_cm sample kernels/bilinear.h.
#pragma once
#include <cstddef>

#include "core/model_config.h"
#include "core/precision.h"
#include "core/tensor.h"
#include "kernels/gemm.h"

namespace s3d {

class Weights;

class DeformationField {
 public:
  DeformationField(const Weights& w, const ModelConfig& cfg, Precision precision = Precision::Exact);

  int pe_dim() const { return pe_dim_; }
  int cm_channels() const { return cm_; }
  int code_dim() const { return code_; }
  int hidden0() const { return h0_; }
  int in_dim() const { return pe_dim_ + cm_; }  // K of e1 with the code folded out
  int in_stride() const { return in_stride_; }  // row stride of the input matrix

  // bias_out[h0] = e1.bias + e1.weight[:, pe+cm:] * code.
  void fold_code(const float* code, float* bias_out) const;

  // Fills columns [0, in_dim()) of n input rows (stride in_stride()):
  // gamma(x) and the F_cm map (g, g, cm) channel-last sampled at 2*(x, y).
  // xs row stride xs_stride. `scratch` holds scratch_floats(n) floats.
  void fill_inputs(int n, const float* xs, int xs_stride, const Tensor& cm_hwc, float* in,
                   float* scratch) const;

  // dx (row stride lddx, 3 columns) for n filled input rows.
  void forward(int n, const float* in, const float* e1_bias, float* scratch, float* dx, int lddx) const;

  size_t scratch_floats(int n) const;

  // Convenience for tests and the stage adapter: all points, (n,3) -> (n,3).
  Tensor run(const Tensor& points, const Tensor& cm_hwc, const float* code) const;

 private:
  int pe_dim_, freqs_, cm_, code_, h0_, h1_, h2_, in_stride_;
  std::array<float, 3> scale_;  // point -> F_cm grid coordinates (x, y used)
  Tensor e1_code_w_;  // (h0, A): the code columns of e1.weight
  Tensor e1_bias_;
  PackedMatrix e1_, e2_, e3_, d1_, d2_, d3_;
  Tensor b2_, b3_, bd1_, bd2_, bd3_;
  std::vector<float> zeros_;
};

}  // namespace s3d
