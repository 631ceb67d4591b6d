#include "model/deformation_field.h"

#include <cstring>
#include <vector>

#include "kernels/bilinear.h"
#include "kernels/posenc.h"
#include "model/deformation_field_math.h"
#include "model/weights.h"

namespace s3d {

namespace {

Tensor pack_bias(const Weights& w, const std::string& name, int n) {
  return w.get(name, {n}).clone();
}

}  // namespace

DeformationField::DeformationField(const Weights& w, const ModelConfig& cfg, Precision precision)
    : pe_dim_(cfg.pe_dim()),
      freqs_(cfg.pe_freqs),
      cm_(cfg.cm_channels),
      code_(cfg.audio_code),
      h0_(cfg.deform_hidden.at(0)),
      h1_(cfg.deform_hidden.at(1)),
      h2_(cfg.deform_hidden.at(2)),
      scale_(cfg.plane_scale()) {
  const int din = cfg.deform_in();
  in_stride_ = (in_dim() + 15) / 16 * 16;
  const Tensor& w1 = w.get("deform.e1.weight", {h0_, din});
  e1_bias_ = pack_bias(w, "deform.e1.bias", h0_);
  std::vector<float> wx(static_cast<size_t>(h0_) * in_dim());
  e1_code_w_ = Tensor::empty({h0_, code_});
  for (int o = 0; o < h0_; ++o) {
    std::memcpy(wx.data() + static_cast<size_t>(o) * in_dim(), w1.data + static_cast<int64_t>(o) * din,
                sizeof(float) * in_dim());
    std::memcpy(e1_code_w_.data + static_cast<int64_t>(o) * code_, w1.data + static_cast<int64_t>(o) * din + in_dim(),
                sizeof(float) * code_);
  }
  e1_ = pack_linear(wx.data(), h0_, in_dim());
  e2_ = pack_linear(w.get("deform.e2.weight", {h1_, h0_}).data, h1_, h0_);
  b2_ = pack_bias(w, "deform.e2.bias", h1_);
  e3_ = pack_linear(w.get("deform.e3.weight", {h2_, h1_}).data, h2_, h1_);
  b3_ = pack_bias(w, "deform.e3.bias", h2_);
  d1_ = pack_linear(w.get("deform.d1.weight", {h1_, h2_}).data, h1_, h2_);
  bd1_ = pack_bias(w, "deform.d1.bias", h1_);
  d2_ = pack_linear(w.get("deform.d2.weight", {h0_, 2 * h1_}).data, h0_, 2 * h1_);
  bd2_ = pack_bias(w, "deform.d2.bias", h0_);
  d3_ = pack_linear(w.get("deform.d3.weight", {3, 2 * h0_}).data, 3, 2 * h0_);
  bd3_ = pack_bias(w, "deform.d3.bias", 3);
  zeros_.assign(static_cast<size_t>(cm_) + 16, 0.f);
  if (precision == Precision::Fast)
    for (PackedMatrix* m : {&e1_, &e2_, &e3_, &d1_, &d2_}) add_bf16_panels(*m);  // d3 (N = 3) stays a dot
}

void DeformationField::fold_code(const float* code, float* bias_out) const {
  for (int o = 0; o < h0_; ++o)
    bias_out[o] = fold_code_row(e1_code_w_.data + static_cast<int64_t>(o) * code_, code, code_, e1_bias_.data[o]);
}

size_t DeformationField::scratch_floats(int n) const {
  const size_t rows = static_cast<size_t>(n);
  const size_t mlp = rows * (2 * h0_ + 2 * h1_ + h2_);
  const size_t pe = pe_scratch_floats(n, freqs_);
  return mlp > pe ? mlp : pe;
}

void DeformationField::fill_inputs(int n, const float* xs, int xs_stride, const Tensor& cm_hwc, float* in,
                                   float* scratch) const {
  positional_encoding(n, xs, xs_stride, freqs_, in, in_stride_, scratch);
  const int gh = static_cast<int>(cm_hwc.dim(0)), gw = static_cast<int>(cm_hwc.dim(1));
  for (int i = 0; i < n; ++i) {
    const float* x = xs + static_cast<int64_t>(i) * xs_stride;
    // F_cm is image-aligned like the XY plane: same point -> grid mapping.
    sample_map_hwc(cm_hwc.data, gh, gw, cm_, scale_[0] * x[0], scale_[1] * x[1], zeros_.data(),
                   in + static_cast<int64_t>(i) * in_stride_ + pe_dim_);
  }
}

void DeformationField::forward(int n, const float* in, const float* e1_bias, float* scratch, float* dx,
                               int lddx) const {
  // Concats live in place: X3 = [d2 out | e1 out] (2 h0 wide), X2 = [d1 out | e2 out] (2 h1 wide).
  float* x3 = scratch;
  float* x2 = x3 + static_cast<size_t>(n) * 2 * h0_;
  float* c = x2 + static_cast<size_t>(n) * 2 * h1_;
  Epilogue relu;
  relu.act = Act::Relu;
  Epilogue ep = relu;
  ep.bias = e1_bias;
  gemm_serial(n, in, in_stride_, e1_, x3 + h0_, 2 * h0_, ep);          // a
  ep.bias = b2_.data;
  gemm_serial(n, x3 + h0_, 2 * h0_, e2_, x2 + h1_, 2 * h1_, ep);      // b
  ep.bias = b3_.data;
  gemm_serial(n, x2 + h1_, 2 * h1_, e3_, c, h2_, ep);                  // c
  ep.bias = bd1_.data;
  gemm_serial(n, c, h2_, d1_, x2, 2 * h1_, ep);                        // d
  ep.bias = bd2_.data;
  gemm_serial(n, x2, 2 * h1_, d2_, x3, 2 * h0_, ep);                   // e
  Epilogue last;
  last.bias = bd3_.data;
  gemm_serial(n, x3, 2 * h0_, d3_, dx, lddx, last);
}

Tensor DeformationField::run(const Tensor& points, const Tensor& cm_hwc, const float* code) const {
  const int n = static_cast<int>(points.dim(0));
  std::vector<float> bias(h0_);
  fold_code(code, bias.data());
  Tensor out = Tensor::empty({n, 3});
  const int chunk = 256;
  Tensor in = Tensor::empty({chunk, in_stride_});
  Tensor scratch = Tensor::empty({static_cast<int64_t>(scratch_floats(chunk))});
  for (int i0 = 0; i0 < n; i0 += chunk) {
    const int m = n - i0 < chunk ? n - i0 : chunk;
    fill_inputs(m, points.data + static_cast<int64_t>(i0) * 3, 3, cm_hwc, in.data, scratch.data);
    forward(m, in.data, bias.data(), scratch.data, out.data + static_cast<int64_t>(i0) * 3, 3);
  }
  return out;
}

}  // namespace s3d
