// AVX2 micro-kernels: 6 x 16 fp32 tile (12 ymm accumulators), walked over the
// 32-wide packed panels in 16-column slices.
#include "kernels/gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define S3D_AVX2 __attribute__((target("avx2,fma")))

namespace s3d {
namespace kern {
namespace {

constexpr int kMR = 6;

S3D_AVX2 inline __m256 v_exp(__m256 x) {
  // Clamp so 2^n stays a normal float (n in [-125, 127]).
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// log(u) for u in [1, 2] (all softplus needs).
S3D_AVX2 inline __m256 v_log_1_2(__m256 u) {
  __m256 big = _mm256_cmp_ps(u, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  __m256 m = _mm256_blendv_ps(u, _mm256_mul_ps(u, _mm256_set1_ps(0.5f)), big);
  __m256 e = _mm256_and_ps(big, _mm256_set1_ps(1.f));
  __m256 x = _mm256_sub_ps(m, _mm256_set1_ps(1.f));
  __m256 z = _mm256_mul_ps(x, x);
  __m256 y = _mm256_set1_ps(7.0376836292E-2f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.1514610310E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.1676998740E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.2420140846E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.4249322787E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-1.6668057665E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(2.0000714765E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(-2.4999993993E-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(3.3333331174E-1f));
  y = _mm256_mul_ps(_mm256_mul_ps(y, x), z);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
  x = _mm256_add_ps(x, y);
  return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), x);
}

S3D_AVX2 inline __m256 v_act(__m256 x, Act act, float slope) {
  const __m256 zero = _mm256_setzero_ps();
  switch (act) {
    case Act::None: return x;
    case Act::Relu: return _mm256_max_ps(x, zero);
    case Act::LeakyRelu:
      return _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(slope)),
                              _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    case Act::Softplus: {
      __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.f), x);
      __m256 y = v_exp(_mm256_sub_ps(zero, ax));
      __m256 u = _mm256_add_ps(y, _mm256_set1_ps(1.f));
      __m256 um1 = _mm256_sub_ps(u, _mm256_set1_ps(1.f));
      __m256 l = _mm256_div_ps(_mm256_mul_ps(v_log_1_2(u), y), um1);
      l = _mm256_blendv_ps(l, y, _mm256_cmp_ps(um1, zero, _CMP_EQ_OQ));
      __m256 r = _mm256_add_ps(_mm256_max_ps(x, zero), l);
      return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, _mm256_set1_ps(20.f), _CMP_GT_OQ));
    }
    case Act::Sigmoid: {
      __m256 e = v_exp(_mm256_sub_ps(zero, x));
      return _mm256_div_ps(_mm256_set1_ps(1.f), _mm256_add_ps(_mm256_set1_ps(1.f), e));
    }
    case Act::Tanh: {
      __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.f));
      __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.f), x);
      __m256 e = v_exp(_mm256_add_ps(ax, ax));
      __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.f),
                                 _mm256_div_ps(_mm256_set1_ps(2.f), _mm256_add_ps(e, _mm256_set1_ps(1.f))));
      __m256 z = _mm256_mul_ps(x, x);
      __m256 p = _mm256_set1_ps(-5.70498872745E-3f);
      p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954E-2f));
      p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531E-2f));
      p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036E-1f));
      p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422E-1f));
      __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), ax, ax);
      __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
      return _mm256_or_ps(r, sign);
    }
  }
  return x;
}

S3D_AVX2 inline __m256i count_mask(int cnt) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// One MR x (8*NV) slice; b/c/bias already offset to the slice's first column.
template <int MR, int NV>
S3D_AVX2 void slice_impl(const TileArgs& t, const float* b, float* c, const float* bias, int n) {
  __m256 acc[MR][NV];
  const bool full = n == 8 * NV;
  __m256i cm[NV];
  for (int v = 0; v < NV; ++v) cm[v] = count_mask(n - 8 * v);
  if (t.load_c) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v)
        acc[i][v] = full ? _mm256_loadu_ps(c + i * t.ldc + 8 * v) : _mm256_maskload_ps(c + i * t.ldc + 8 * v, cm[v]);
  } else {
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  }
  const int64_t lda = t.lda;
  for (int s = 0; s < t.nseg; ++s) {
    const float* a = t.a[s];
    for (int k = 0; k < t.ks; ++k) {
      __m256 bv[NV];
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        __m256 av = _mm256_broadcast_ss(a + i * lda + k);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
      }
      b += t.ldb;
    }
  }
  if (bias) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      __m256 bb = _mm256_maskload_ps(bias + 8 * v, cm[v]);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][v] = _mm256_add_ps(acc[i][v], bb);
    }
  }
  // Cheap activations stay in registers; every loop over acc is fully
  // unrolled so the accumulators never become addressable (GCC would spill).
  if (t.act == Act::Relu || t.act == Act::LeakyRelu) {
    const __m256 sl = _mm256_set1_ps(t.act == Act::Relu ? 0.f : t.slope);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm256_blendv_ps(acc[i][v], _mm256_mul_ps(acc[i][v], sl),
                                     _mm256_cmp_ps(acc[i][v], _mm256_setzero_ps(), _CMP_LT_OQ));
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      if (full) _mm256_storeu_ps(c + i * t.ldc + 8 * v, acc[i][v]);
      else _mm256_maskstore_ps(c + i * t.ldc + 8 * v, cm[v], acc[i][v]);
    }
  if (t.act == Act::Softplus || t.act == Act::Sigmoid || t.act == Act::Tanh) {
    // Transcendental epilogues run on the just-stored (L1-hot) tile.
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) {
        float* p = c + i * t.ldc + 8 * v;
        _mm256_maskstore_ps(p, cm[v], v_act(_mm256_maskload_ps(p, cm[v]), t.act, t.slope));
      }
  }
}

template <int MR>
S3D_AVX2 void tile_m(const TileArgs& t) {
  for (int j0 = 0; j0 < t.n; j0 += 16) {
    int n = t.n - j0 < 16 ? t.n - j0 : 16;
    const float* bias = t.bias ? t.bias + j0 : nullptr;
    if (t.ldb - j0 >= 16) slice_impl<MR, 2>(t, t.b + j0, t.c + j0, bias, n);
    else slice_impl<MR, 1>(t, t.b + j0, t.c + j0, bias, n);
  }
}

using TileFn = void (*)(const TileArgs&);
const TileFn kTiles[kMR + 1] = {nullptr, tile_m<1>, tile_m<2>, tile_m<3>, tile_m<4>, tile_m<5>, tile_m<6>};

void tile(const TileArgs& t) { kTiles[t.m](t); }

S3D_AVX2 void act_buffer(float* x, int64_t n, Act act, float slope) {
  if (act == Act::None) return;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, v_act(_mm256_loadu_ps(x + i), act, slope));
  if (i < n) {
    __m256i m = count_mask(static_cast<int>(n - i));
    _mm256_maskstore_ps(x + i, m, v_act(_mm256_maskload_ps(x + i, m), act, slope));
  }
}

S3D_AVX2 void dot(const DotArgs& d) {
  const int kfull = d.k / 8 * 8;
  const __m256i tail = count_mask(d.k - kfull);
  for (int i = 0; i < d.m; ++i) {
    const float* a = d.a + i * d.lda;
    float* c = d.c + i * d.ldc;
    for (int n = 0; n < d.n; ++n) {
      const float* w = d.w + static_cast<int64_t>(n) * d.kdot;
      __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
      int k = 0;
      for (; k + 16 <= kfull; k += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(w + k), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(w + k + 8), acc1);
      }
      if (k < kfull) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(w + k), acc0);
      if (kfull < d.k) acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + kfull, tail), _mm256_loadu_ps(w + kfull), acc1);
      __m256 s = _mm256_add_ps(acc0, acc1);
      __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
      h = _mm_add_ps(h, _mm_movehl_ps(h, h));
      h = _mm_add_ss(h, _mm_movehdup_ps(h));
      float v = _mm_cvtss_f32(h);
      if (d.bias) v += d.bias[n];
      c[n] = d.load_c ? c[n] + v : v;
    }
  }
}

}  // namespace

Kernel kernel_avx2() { return Kernel{kMR, tile, dot, act_buffer, nullptr}; }

}  // namespace kern
}  // namespace s3d

#else
namespace s3d {
namespace kern {
Kernel kernel_avx2() { return kernel_scalar(); }
}  // namespace kern
}  // namespace s3d
#endif
