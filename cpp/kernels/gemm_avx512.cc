// AVX-512 micro-kernels: 14 x 32 fp32 tile (28 zmm accumulators), A broadcast
// straight from row-major memory, B from a contiguous 32-wide panel. The bf16
// tile (AVX512-BF16, fast precision) has the same shape and epilogue.
#include "kernels/gemm_internal.h"

#include <cstring>

#include "core/cpu_features.h"

#include "kernels/x86_intrinsics.h"

#ifdef S3D_X86

#define S3D_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define S3D_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512bf16")))

namespace s3d {
namespace kern {
namespace {

constexpr int kMR = 14;

S3D_AVX512 inline __m512 v_exp(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.f)), _mm512_set1_ps(88.7f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500E-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);
}

// log(u) for u in [1, 2] (all softplus needs).
S3D_AVX512 inline __m512 v_log_1_2(__m512 u) {
  __mmask16 big = _mm512_cmp_ps_mask(u, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
  __m512 m = _mm512_mask_mul_ps(u, big, u, _mm512_set1_ps(0.5f));
  __m512 e = _mm512_maskz_mov_ps(big, _mm512_set1_ps(1.f));
  __m512 x = _mm512_sub_ps(m, _mm512_set1_ps(1.f));
  __m512 z = _mm512_mul_ps(x, x);
  __m512 y = _mm512_set1_ps(7.0376836292E-2f);
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(-1.1514610310E-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.1676998740E-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(-1.2420140846E-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.4249322787E-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(-1.6668057665E-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(2.0000714765E-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(-2.4999993993E-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(3.3333331174E-1f));
  y = _mm512_mul_ps(_mm512_mul_ps(y, x), z);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
  y = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.5f), y);
  x = _mm512_add_ps(x, y);
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), x);
}

S3D_AVX512 inline __m512 v_act(__m512 x, Act act, float slope) {
  switch (act) {
    case Act::None: return x;
    case Act::Relu: return _mm512_max_ps(x, _mm512_setzero_ps());
    case Act::LeakyRelu: {
      __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(x, neg, x, _mm512_set1_ps(slope));
    }
    case Act::Softplus: {
      // max(x,0) + log1p(exp(-|x|)); log1p(y) = log(u) * y / (u - 1), u = 1 + y.
      __m512 ax = _mm512_abs_ps(x);
      __m512 y = v_exp(_mm512_sub_ps(_mm512_setzero_ps(), ax));
      __m512 u = _mm512_add_ps(y, _mm512_set1_ps(1.f));
      __m512 um1 = _mm512_sub_ps(u, _mm512_set1_ps(1.f));
      __m512 l = _mm512_div_ps(_mm512_mul_ps(v_log_1_2(u), y), um1);
      l = _mm512_mask_mov_ps(l, _mm512_cmp_ps_mask(um1, _mm512_setzero_ps(), _CMP_EQ_OQ), y);
      __m512 r = _mm512_add_ps(_mm512_max_ps(x, _mm512_setzero_ps()), l);
      return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, _mm512_set1_ps(20.f), _CMP_GT_OQ), x);
    }
    case Act::Sigmoid: {
      __m512 e = v_exp(_mm512_sub_ps(_mm512_setzero_ps(), x));
      return _mm512_div_ps(_mm512_set1_ps(1.f), _mm512_add_ps(_mm512_set1_ps(1.f), e));
    }
    case Act::Tanh: {
      __m512 ax = _mm512_abs_ps(x);
      // |x| >= 0.625: 1 - 2 / (exp(2|x|) + 1); below: odd polynomial (Cephes tanhf).
      __m512 e = v_exp(_mm512_add_ps(ax, ax));
      __m512 big = _mm512_sub_ps(_mm512_set1_ps(1.f),
                                 _mm512_div_ps(_mm512_set1_ps(2.f), _mm512_add_ps(e, _mm512_set1_ps(1.f))));
      __m512 z = _mm512_mul_ps(x, x);
      __m512 p = _mm512_set1_ps(-5.70498872745E-3f);
      p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954E-2f));
      p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531E-2f));
      p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036E-1f));
      p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422E-1f));
      __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), ax, ax);
      __m512 r = _mm512_mask_mov_ps(big, _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), small);
      // copy the sign of x
      __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(int(0x80000000u)));
      return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
    }
  }
  return x;
}

inline __mmask16 count_mask(int cnt) {
  return cnt >= 16 ? __mmask16(0xFFFF) : cnt <= 0 ? __mmask16(0) : __mmask16((1u << cnt) - 1);
}

// Start of a tile (either precision): zeros, or C when accumulating.
template <int MR, int NV, class Args>
S3D_AVX512 __attribute__((always_inline)) inline void tile_begin(__m512 (&acc)[MR][NV], const __mmask16 (&cm)[NV],
                                                                 const Args& t) {
  if (t.load_c) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_maskz_loadu_ps(cm[v], t.c + i * t.ldc + 16 * v);
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
}

// End of a tile (either precision): + bias, activation, one store of C.
template <int MR, int NV, class Args>
S3D_AVX512 __attribute__((always_inline)) inline void tile_end(__m512 (&acc)[MR][NV], const __mmask16 (&cm)[NV],
                                                               const Args& t) {
  if (t.bias) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      __m512 bb = _mm512_maskz_loadu_ps(cm[v], t.bias + 16 * v);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) acc[i][v] = _mm512_add_ps(acc[i][v], bb);
    }
  }
  // Cheap activations stay in registers; every loop over acc is fully
  // unrolled so the accumulators never become addressable (GCC would spill).
  if (t.act == Act::Relu || t.act == Act::LeakyRelu) {
    const __m512 sl = _mm512_set1_ps(t.act == Act::Relu ? 0.f : t.slope);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        __mmask16 neg = _mm512_cmp_ps_mask(acc[i][v], _mm512_setzero_ps(), _CMP_LT_OQ);
        acc[i][v] = _mm512_mask_mul_ps(acc[i][v], neg, acc[i][v], sl);
      }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(t.c + i * t.ldc + 16 * v, cm[v], acc[i][v]);
  if (t.act == Act::Softplus || t.act == Act::Sigmoid || t.act == Act::Tanh) {
    // Transcendental epilogues run on the just-stored (L1-hot) tile.
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) {
        float* p = t.c + i * t.ldc + 16 * v;
        _mm512_mask_storeu_ps(p, cm[v], v_act(_mm512_maskz_loadu_ps(cm[v], p), t.act, t.slope));
      }
  }
}

template <int MR, int NV>
S3D_AVX512 void tile_impl(const TileArgs& t) {
  __m512 acc[MR][NV];
  const __mmask16 bmask = count_mask(t.ldb - 16 * (NV - 1));  // last B vector of the panel
  __mmask16 cm[NV];
  for (int v = 0; v < NV; ++v) cm[v] = count_mask(t.n - 16 * v);
  tile_begin<MR, NV>(acc, cm, t);
  const float* b = t.b;
  const int64_t lda = t.lda;
  for (int s = 0; s < t.nseg; ++s) {
    const float* a = t.a[s];
    for (int k = 0; k < t.ks; ++k) {
      __m512 bv[NV];
      if (NV == 2) {
        bv[0] = _mm512_loadu_ps(b);
        bv[NV - 1] = _mm512_maskz_loadu_ps(bmask, b + 16);
      } else {
        bv[0] = _mm512_maskz_loadu_ps(bmask, b);
      }
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        __m512 av = _mm512_set1_ps(a[i * lda + k]);
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
      }
      b += t.ldb;
    }
  }
  tile_end<MR, NV>(acc, cm, t);
}

#ifdef S3D_HAVE_BF16
// bf16 tile: per (k, k+1) pair, one vdpbf16ps per accumulator adds
// a[k]*b[k][n] + a[k+1]*b[k+1][n] to lane n: twice the fp32 FMA's work.
template <int MR, int NV>
S3D_AVX512_BF16 void tile_bf16_impl(const TileArgsBf16& t) {
  __m512 acc[MR][NV];
  const __mmask16 bmask = count_mask(t.ldb - 16 * (NV - 1));
  __mmask16 cm[NV];
  for (int v = 0; v < NV; ++v) cm[v] = count_mask(t.n - 16 * v);
  tile_begin<MR, NV>(acc, cm, t);
  const uint16_t* b = t.b;
  const int64_t lda = t.lda;
  const int64_t ldb2 = 2 * static_cast<int64_t>(t.ldb);
  for (int s = 0; s < t.nseg; ++s) {
    const uint16_t* a = t.a[s];
    for (int k = 0; k < t.kp; ++k) {
      __m512bh bv[NV];
      if (NV == 2) {
        bv[0] = (__m512bh)_mm512_loadu_si512(b);
        bv[NV - 1] = (__m512bh)_mm512_maskz_loadu_epi32(bmask, b + 32);
      } else {
        bv[0] = (__m512bh)_mm512_maskz_loadu_epi32(bmask, b);
      }
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        uint32_t pair;
        std::memcpy(&pair, a + i * lda + 2 * k, 4);
        const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], av, bv[v]);
      }
      b += ldb2;
    }
  }
  tile_end<MR, NV>(acc, cm, t);
}

#endif  // S3D_HAVE_BF16

template <int MR>
S3D_AVX512 void tile_m(const TileArgs& t) {
  if (t.ldb > 16) tile_impl<MR, 2>(t);
  else tile_impl<MR, 1>(t);
}

using TileFn = void (*)(const TileArgs&);
const TileFn kTiles[kMR + 1] = {nullptr,     tile_m<1>,  tile_m<2>,  tile_m<3>,  tile_m<4>,
                                tile_m<5>,   tile_m<6>,  tile_m<7>,  tile_m<8>,  tile_m<9>,
                                tile_m<10>,  tile_m<11>, tile_m<12>, tile_m<13>, tile_m<14>};

void tile(const TileArgs& t) { kTiles[t.m](t); }

#ifdef S3D_HAVE_BF16
template <int MR>
S3D_AVX512_BF16 void tile_bf16_m(const TileArgsBf16& t) {
  if (t.ldb > 16) tile_bf16_impl<MR, 2>(t);
  else tile_bf16_impl<MR, 1>(t);
}

using TileBf16Fn = void (*)(const TileArgsBf16&);
const TileBf16Fn kTilesBf16[kMR + 1] = {
    nullptr,        tile_bf16_m<1>,  tile_bf16_m<2>,  tile_bf16_m<3>,  tile_bf16_m<4>,
    tile_bf16_m<5>, tile_bf16_m<6>,  tile_bf16_m<7>,  tile_bf16_m<8>,  tile_bf16_m<9>,
    tile_bf16_m<10>, tile_bf16_m<11>, tile_bf16_m<12>, tile_bf16_m<13>, tile_bf16_m<14>};

void tile_bf16(const TileArgsBf16& t) { kTilesBf16[t.m](t); }
#endif  // S3D_HAVE_BF16

S3D_AVX512 void act_buffer(float* x, int64_t n, Act act, float slope) {
  if (act == Act::None) return;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, v_act(_mm512_loadu_ps(x + i), act, slope));
  if (i < n) {
    __mmask16 m = count_mask(static_cast<int>(n - i));
    _mm512_mask_storeu_ps(x + i, m, v_act(_mm512_maskz_loadu_ps(m, x + i), act, slope));
  }
}

S3D_AVX512 void dot(const DotArgs& d) {
  const int kfull = d.k / 16 * 16;
  const __mmask16 tail = count_mask(d.k - kfull);
  for (int i = 0; i < d.m; ++i) {
    const float* a = d.a + i * d.lda;
    float* c = d.c + i * d.ldc;
    for (int n = 0; n < d.n; ++n) {
      const float* w = d.w + static_cast<int64_t>(n) * d.kdot;
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      int k = 0;
      for (; k + 32 <= kfull; k += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(w + k), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(w + k + 16), acc1);
      }
      if (k < kfull) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(w + k), acc0);
      if (tail) acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, a + kfull), _mm512_loadu_ps(w + kfull), acc1);
      float v = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
      if (d.bias) v += d.bias[n];
      c[n] = d.load_c ? c[n] + v : v;
    }
  }
}

}  // namespace

Kernel kernel_avx512() {
#ifdef S3D_HAVE_BF16
  const bool bf16 = cpu_features().avx512_bf16;  // honours S3D_CPU_FEATURES
  return Kernel{kMR, tile, dot, act_buffer, bf16 ? tile_bf16 : nullptr};
#else
  return Kernel{kMR, tile, dot, act_buffer, nullptr};
#endif
}

}  // namespace kern
}  // namespace s3d

#else
namespace s3d {
namespace kern {
Kernel kernel_avx512() { return kernel_scalar(); }
}  // namespace kern
}  // namespace s3d
#endif
