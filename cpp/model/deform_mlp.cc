#include "model/deform_mlp.h"

#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
// GCC 12 flags its own _mm512_undefined_*() inside the intrinsics headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define S3D_X86 1
#endif

#include "kernels/isa.h"
#include "model/triplane.h"
#include "model/weights.h"

namespace s3d {

namespace {

// pi/2 in three parts (Cody-Waite); q * kP1 and q * kP2 are exact for |q| < 2^12.
constexpr float kTwoOverPi = 0.636619772367581343f;
constexpr float kP1 = 1.5703125f;
constexpr float kP2 = 4.837512969970703125e-4f;
constexpr float kP3 = 7.54978995489188216e-8f;
// Cephes sinf/cosf minimax coefficients on [-pi/4, pi/4].
constexpr float kS1 = -1.6666654611e-1f, kS2 = 8.3321608736e-3f, kS3 = -1.9515295891e-4f;
constexpr float kC1 = 4.166664568298827e-2f, kC2 = -1.388731625493765e-3f, kC3 = 2.443315711809948e-5f;

inline void sincos_scalar(float a, float& s, float& c) {
  const float q = std::nearbyint(a * kTwoOverPi);
  float r = a - q * kP1;
  r = r - q * kP2;
  r = r - q * kP3;
  const float z = r * r;
  const float sp = ((kS3 * z + kS2) * z + kS1) * z * r + r;
  const float cp = ((kC3 * z + kC2) * z + kC1) * z * z - 0.5f * z + 1.f;
  switch (static_cast<int>(q) & 3) {
    case 0: s = sp; c = cp; break;
    case 1: s = cp; c = -sp; break;
    case 2: s = -sp; c = -cp; break;
    default: s = -cp; c = sp; break;
  }
}

#ifdef S3D_X86
__attribute__((target("avx2,fma"))) void sincos_avx2(int64_t n, const float* a, float* s, float* c) {
  int64_t i = 0;
  const __m256 sign = _mm256_set1_ps(-0.f);
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(a + i);
    const __m256 q = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kTwoOverPi)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(q, _mm256_set1_ps(kP1), x);
    r = _mm256_fnmadd_ps(q, _mm256_set1_ps(kP2), r);
    r = _mm256_fnmadd_ps(q, _mm256_set1_ps(kP3), r);
    const __m256 z = _mm256_mul_ps(r, r);
    __m256 sp = _mm256_fmadd_ps(_mm256_set1_ps(kS3), z, _mm256_set1_ps(kS2));
    sp = _mm256_fmadd_ps(sp, z, _mm256_set1_ps(kS1));
    sp = _mm256_fmadd_ps(_mm256_mul_ps(sp, z), r, r);
    __m256 cp = _mm256_fmadd_ps(_mm256_set1_ps(kC3), z, _mm256_set1_ps(kC2));
    cp = _mm256_fmadd_ps(cp, z, _mm256_set1_ps(kC1));
    cp = _mm256_fmadd_ps(_mm256_mul_ps(cp, z), z, _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, _mm256_set1_ps(1.f)));
    const __m256i qi = _mm256_cvtps_epi32(q);
    // swap when q is odd; sin negative for q&3 in {2,3}; cos negative for {1,2}.
    const __m256 odd = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(qi, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
    const __m256 ss = _mm256_blendv_ps(sp, cp, odd);
    const __m256 cc = _mm256_blendv_ps(cp, sp, odd);
    const __m256 sneg = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(qi, _mm256_set1_epi32(2)), 30));
    const __m256 cneg = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_and_si256(_mm256_add_epi32(qi, _mm256_set1_epi32(1)), _mm256_set1_epi32(2)), 30));
    _mm256_storeu_ps(s + i, _mm256_xor_ps(ss, _mm256_and_ps(sneg, sign)));
    _mm256_storeu_ps(c + i, _mm256_xor_ps(cc, _mm256_and_ps(cneg, sign)));
  }
  for (; i < n; ++i) sincos_scalar(a[i], s[i], c[i]);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))) void sincos_avx512(int64_t n, const float* a,
                                                                                      float* s, float* c) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(a + i);
    // Masked forms with an explicit source: the unmasked intrinsics trip
    // GCC 12's -Wmaybe-uninitialized inside its own headers.
    const __m512 q = _mm512_mask_roundscale_ps(_mm512_setzero_ps(), 0xFFFF,
                                               _mm512_mul_ps(x, _mm512_set1_ps(kTwoOverPi)),
                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(q, _mm512_set1_ps(kP1), x);
    r = _mm512_fnmadd_ps(q, _mm512_set1_ps(kP2), r);
    r = _mm512_fnmadd_ps(q, _mm512_set1_ps(kP3), r);
    const __m512 z = _mm512_mul_ps(r, r);
    __m512 sp = _mm512_fmadd_ps(_mm512_set1_ps(kS3), z, _mm512_set1_ps(kS2));
    sp = _mm512_fmadd_ps(sp, z, _mm512_set1_ps(kS1));
    sp = _mm512_fmadd_ps(_mm512_mul_ps(sp, z), r, r);
    __m512 cp = _mm512_fmadd_ps(_mm512_set1_ps(kC3), z, _mm512_set1_ps(kC2));
    cp = _mm512_fmadd_ps(cp, z, _mm512_set1_ps(kC1));
    cp = _mm512_fmadd_ps(_mm512_mul_ps(cp, z), z, _mm512_fnmadd_ps(_mm512_set1_ps(0.5f), z, _mm512_set1_ps(1.f)));
    const __m512i qi = _mm512_mask_cvtps_epi32(_mm512_setzero_si512(), 0xFFFF, q);
    const __mmask16 odd = _mm512_test_epi32_mask(qi, _mm512_set1_epi32(1));
    const __mmask16 sneg = _mm512_test_epi32_mask(qi, _mm512_set1_epi32(2));
    const __mmask16 cneg = _mm512_test_epi32_mask(_mm512_add_epi32(qi, _mm512_set1_epi32(1)), _mm512_set1_epi32(2));
    __m512 ss = _mm512_mask_blend_ps(odd, sp, cp);
    __m512 cc = _mm512_mask_blend_ps(odd, cp, sp);
    ss = _mm512_mask_sub_ps(ss, sneg, _mm512_setzero_ps(), ss);
    cc = _mm512_mask_sub_ps(cc, cneg, _mm512_setzero_ps(), cc);
    _mm512_storeu_ps(s + i, ss);
    _mm512_storeu_ps(c + i, cc);
  }
  for (; i < n; ++i) sincos_scalar(a[i], s[i], c[i]);
}
#endif

Tensor pack_bias(const Weights& w, const std::string& name, int n) {
  return w.get(name, {n}).clone();
}

}  // namespace

void sincos_n(int64_t n, const float* a, float* s, float* c) {
#ifdef S3D_X86
  const Isa isa = kernel_isa();
  if (isa == Isa::Avx512) return sincos_avx512(n, a, s, c);
  if (isa == Isa::Avx2) return sincos_avx2(n, a, s, c);
#endif
  for (int64_t i = 0; i < n; ++i) sincos_scalar(a[i], s[i], c[i]);
}

size_t pe_scratch_floats(int n, int freqs) { return static_cast<size_t>(n) * 3 * freqs * 3; }

void positional_encoding(int n, const float* xs, int xs_stride, int freqs, float* out, int ldo, float* tmp) {
  const int per = 3 * freqs;  // angles per point
  float* ang = tmp;
  float* sn = tmp + static_cast<size_t>(n) * per;
  float* cs = sn + static_cast<size_t>(n) * per;
  // a = x * float(pi * 2^k), as torch multiplies a float tensor by a Python scalar.
  float mult[32];
  for (int k = 0; k < freqs && k < 32; ++k) mult[k] = static_cast<float>(M_PI * std::ldexp(1.0, k));
  for (int i = 0; i < n; ++i) {
    const float* x = xs + static_cast<int64_t>(i) * xs_stride;
    float* a = ang + static_cast<size_t>(i) * per;
    for (int k = 0; k < freqs; ++k)
      for (int j = 0; j < 3; ++j) a[k * 3 + j] = x[j] * mult[k];
  }
  sincos_n(static_cast<int64_t>(n) * per, ang, sn, cs);
  for (int i = 0; i < n; ++i) {
    const float* x = xs + static_cast<int64_t>(i) * xs_stride;
    float* o = out + static_cast<int64_t>(i) * ldo;
    const float* si = sn + static_cast<size_t>(i) * per;
    const float* ci = cs + static_cast<size_t>(i) * per;
    o[0] = x[0];
    o[1] = x[1];
    o[2] = x[2];
    for (int k = 0; k < freqs; ++k)
      for (int j = 0; j < 3; ++j) {
        o[3 + 6 * k + j] = si[k * 3 + j];
        o[6 + 6 * k + j] = ci[k * 3 + j];
      }
  }
}

DeformMlp::DeformMlp(const Weights& w, const ModelConfig& cfg)
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
}

void DeformMlp::fold_code(const float* code, float* bias_out) const {
  for (int o = 0; o < h0_; ++o) {
    // Sum the code term first, then the bias: Linear computes W x + b.
    double s = 0.0;
    const float* wr = e1_code_w_.data + static_cast<int64_t>(o) * code_;
    for (int k = 0; k < code_; ++k) s += static_cast<double>(wr[k]) * code[k];
    bias_out[o] = static_cast<float>(s + e1_bias_.data[o]);
  }
}

size_t DeformMlp::scratch_floats(int n) const {
  const size_t rows = static_cast<size_t>(n);
  const size_t mlp = rows * (2 * h0_ + 2 * h1_ + h2_);
  const size_t pe = pe_scratch_floats(n, freqs_);
  return mlp > pe ? mlp : pe;
}

void DeformMlp::fill_inputs(int n, const float* xs, int xs_stride, const Tensor& cm_hwc, float* in,
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

void DeformMlp::forward(int n, const float* in, const float* e1_bias, float* scratch, float* dx,
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

Tensor DeformMlp::run(const Tensor& points, const Tensor& cm_hwc, const float* code) const {
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
