#include "kernels/triplane_sample.h"

#include <cstdint>

#include "kernels/x86_intrinsics.h"

#include "kernels/bilinear.h"
#include "kernels/isa.h"

namespace s3d {

namespace {

inline void level_taps(const TriplaneView& P, int l, const float* pt, BilinearTaps taps[3]) {
  const float q0 = P.scale[0] * pt[0], q1 = P.scale[1] * pt[1], q2 = P.scale[2] * pt[2];
  const int h = P.h[l], w = P.w[l], C = P.C;
  const float* base = P.level[l];
  const int64_t plane = static_cast<int64_t>(h) * w * C;
  bilinear_taps(base, h, w, C, q0, q1, P.zeros, taps[0]);              // XY
  bilinear_taps(base + plane, h, w, C, q0, q2, P.zeros, taps[1]);      // XZ
  bilinear_taps(base + 2 * plane, h, w, C, q1, q2, P.zeros, taps[2]);  // YZ
}

void triplane_sample_scalar(const TriplaneView& P, int n, const float* pts, int ps, float* out, int ldo) {
  const int C = P.C;
  BilinearTaps taps[3];
  for (int i = 0; i < n; ++i) {
    const float* pt = pts + static_cast<int64_t>(i) * ps;
    float* o = out + static_cast<int64_t>(i) * ldo;
    for (int l = 0; l < 4; ++l) {
      level_taps(P, l, pt, taps);
      for (int c = 0; c < C; ++c) {
        float acc = 0.f;
        for (int k = 0; k < 3; ++k) {
          const BilinearTaps& t = taps[k];
          acc = acc + bilinear_combine(t.p[0][c], t.p[1][c], t.p[2][c], t.p[3][c], t.w);
        }
        o[l * C + c] = acc / 3.f;
      }
    }
  }
}

#ifdef S3D_X86
__attribute__((target("avx2,fma"))) void triplane_sample_avx2(const TriplaneView& P, int n, const float* pts,
                                                                 int ps, float* out, int ldo) {
  const int C = P.C;  // multiple of 8
  const __m256 third = _mm256_set1_ps(1.f / 3.f);
  BilinearTaps taps[3];
  for (int i = 0; i < n; ++i) {
    const float* pt = pts + static_cast<int64_t>(i) * ps;
    float* o = out + static_cast<int64_t>(i) * ldo;
    for (int l = 0; l < 4; ++l) {
      level_taps(P, l, pt, taps);
      for (int c = 0; c < C; c += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int k = 0; k < 3; ++k) {
          const BilinearTaps& t = taps[k];
          __m256 v = _mm256_mul_ps(_mm256_loadu_ps(t.p[0] + c), _mm256_set1_ps(t.w[0]));
          v = _mm256_fmadd_ps(_mm256_loadu_ps(t.p[1] + c), _mm256_set1_ps(t.w[1]), v);
          v = _mm256_fmadd_ps(_mm256_loadu_ps(t.p[2] + c), _mm256_set1_ps(t.w[2]), v);
          v = _mm256_fmadd_ps(_mm256_loadu_ps(t.p[3] + c), _mm256_set1_ps(t.w[3]), v);
          acc = _mm256_add_ps(acc, v);
        }
        _mm256_storeu_ps(o + l * C + c, _mm256_mul_ps(acc, third));
      }
    }
  }
}

// The 12 (level, plane) tap sets of a point are computed together in one
// zmm (lanes 3l + k): the scalar tap arithmetic, not memory, bounded this
// loop. Out-of-range corners get weight 0 and offset 0 (a valid texel), which
// equals zero padding for the finite plane values the encoder produces.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))) void triplane_sample_avx512(
    const TriplaneView& P, int n, const float* pts, int ps, float* out, int ldo) {
  const int C = P.C;  // multiple of 16
  alignas(64) float wf[16], hf[16];
  alignas(64) int32_t wi[16], hi[16], plane_off[16], sx[16], sy[16];
  static const int kA[3] = {0, 0, 1}, kB[3] = {1, 2, 2};  // XY, XZ, YZ
  for (int lane = 0; lane < 16; ++lane) {
    const int l = lane < 12 ? lane / 3 : 3, k = lane < 12 ? lane % 3 : 0;
    wi[lane] = P.w[l];
    hi[lane] = P.h[l];
    wf[lane] = static_cast<float>(P.w[l]) * 0.5f;
    hf[lane] = static_cast<float>(P.h[l]) * 0.5f;
    plane_off[lane] = k * P.h[l] * P.w[l] * C;
    sx[lane] = kA[k];
    sy[lane] = kB[k];
  }
  const __m512 half_w = _mm512_load_ps(wf), half_h = _mm512_load_ps(hf);
  const __m512i W = _mm512_load_si512(wi), H = _mm512_load_si512(hi), poff = _mm512_load_si512(plane_off);
  const __m512i ix_sel = _mm512_load_si512(sx), iy_sel = _mm512_load_si512(sy);
  const __m512i vC = _mm512_set1_epi32(C), WC = _mm512_mullo_epi32(W, vC);
  const __m512 one = _mm512_set1_ps(1.f), halfp = _mm512_set1_ps(0.5f);
  const __m512 third = _mm512_set1_ps(1.f / 3.f);  // acc * (1/3): within 1 ulp of torch's acc / 3
  const __m512i zero_i = _mm512_setzero_si512(), m1 = _mm512_set1_epi32(-1);
  const float* base[4] = {P.level[0], P.level[1], P.level[2], P.level[3]};
  const __m512 qscale = _mm512_maskz_loadu_ps(0x7, P.scale);  // (sx, sy, sz, 0...)
  alignas(64) int32_t off[4][16];
  alignas(64) float wt[4][16];
  for (int i = 0; i < n; ++i) {
    const float* pt = pts + static_cast<int64_t>(i) * ps;
    const __m512 q = _mm512_mul_ps(_mm512_maskz_loadu_ps(0x7, pt), qscale);  // plane grid coordinates
    const __m512 gx = _mm512_permutexvar_ps(ix_sel, q), gy = _mm512_permutexvar_ps(iy_sel, q);
    const __m512 ix = _mm512_sub_ps(_mm512_mul_ps(_mm512_add_ps(gx, one), half_w), halfp);
    const __m512 iy = _mm512_sub_ps(_mm512_mul_ps(_mm512_add_ps(gy, one), half_h), halfp);
    const __m512 fx = _mm512_floor_ps(ix), fy = _mm512_floor_ps(iy);
    const __m512 wx = _mm512_sub_ps(ix, fx), wy = _mm512_sub_ps(iy, fy);
    const __m512 e = _mm512_sub_ps(one, wx), s = _mm512_sub_ps(one, wy);
    // Clamp before converting (also maps NaN to -2: out of range).
    const __m512i x0 = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(fx, _mm512_set1_ps(-2.f)), _mm512_set1_ps(1e6f)));
    const __m512i y0 = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(fy, _mm512_set1_ps(-2.f)), _mm512_set1_ps(1e6f)));
    const __mmask16 vx0 = _mm512_cmpge_epi32_mask(x0, zero_i) & _mm512_cmplt_epi32_mask(x0, W);
    const __mmask16 vx1 = _mm512_cmpge_epi32_mask(x0, m1) & _mm512_cmplt_epi32_mask(x0, _mm512_sub_epi32(W, _mm512_set1_epi32(1)));
    const __mmask16 vy0 = _mm512_cmpge_epi32_mask(y0, zero_i) & _mm512_cmplt_epi32_mask(y0, H);
    const __mmask16 vy1 = _mm512_cmpge_epi32_mask(y0, m1) & _mm512_cmplt_epi32_mask(y0, _mm512_sub_epi32(H, _mm512_set1_epi32(1)));
    const __m512i o00 = _mm512_add_epi32(poff, _mm512_mullo_epi32(_mm512_add_epi32(_mm512_mullo_epi32(y0, W), x0), vC));
    _mm512_store_si512(off[0], _mm512_maskz_mov_epi32(vy0 & vx0, o00));
    _mm512_store_si512(off[1], _mm512_maskz_mov_epi32(vy0 & vx1, _mm512_add_epi32(o00, vC)));
    _mm512_store_si512(off[2], _mm512_maskz_mov_epi32(vy1 & vx0, _mm512_add_epi32(o00, WC)));
    _mm512_store_si512(off[3], _mm512_maskz_mov_epi32(vy1 & vx1, _mm512_add_epi32(o00, _mm512_add_epi32(WC, vC))));
    _mm512_store_ps(wt[0], _mm512_maskz_mul_ps(vy0 & vx0, s, e));
    _mm512_store_ps(wt[1], _mm512_maskz_mul_ps(vy0 & vx1, s, wx));
    _mm512_store_ps(wt[2], _mm512_maskz_mul_ps(vy1 & vx0, wy, e));
    _mm512_store_ps(wt[3], _mm512_maskz_mul_ps(vy1 & vx1, wy, wx));
    float* o = out + static_cast<int64_t>(i) * ldo;
    for (int l = 0; l < 4; ++l) {
      const float* b = base[l];
      for (int c = 0; c < C; c += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (int k = 0; k < 3; ++k) {
          const int ln = 3 * l + k;
          __m512 v = _mm512_mul_ps(_mm512_loadu_ps(b + off[0][ln] + c), _mm512_set1_ps(wt[0][ln]));
          v = _mm512_fmadd_ps(_mm512_loadu_ps(b + off[1][ln] + c), _mm512_set1_ps(wt[1][ln]), v);
          v = _mm512_fmadd_ps(_mm512_loadu_ps(b + off[2][ln] + c), _mm512_set1_ps(wt[2][ln]), v);
          v = _mm512_fmadd_ps(_mm512_loadu_ps(b + off[3][ln] + c), _mm512_set1_ps(wt[3][ln]), v);
          acc = _mm512_add_ps(acc, v);
        }
        _mm512_storeu_ps(o + l * C + c, _mm512_mul_ps(acc, third));
      }
    }
  }
}
#endif

}  // namespace

void triplane_sample(const TriplaneView& planes, int n, const float* pts, int pts_stride, float* out, int ldo) {
#ifdef S3D_X86
  const Isa isa = kernel_isa();
  if (isa == Isa::Avx512 && planes.C % 16 == 0) return triplane_sample_avx512(planes, n, pts, pts_stride, out, ldo);
  if (isa >= Isa::Avx2 && planes.C % 8 == 0) return triplane_sample_avx2(planes, n, pts, pts_stride, out, ldo);
#endif
  triplane_sample_scalar(planes, n, pts, pts_stride, out, ldo);
}

}  // namespace s3d
