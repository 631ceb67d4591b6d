#include "model/triplane.h"

#include <cmath>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define S3D_X86 1
#endif

#include "core/error.h"
#include "kernels/isa.h"

namespace s3d {

Planes planes_from_hwc(const std::array<Tensor, 4>& hwc, int C) {
  if (C <= 0) throw Error(ErrorCode::Internal, "planes_from_hwc: plane channels must be positive");
  Planes p;
  p.C = C;
  p.zeros.assign(static_cast<size_t>(C) + 16, 0.f);
  for (int l = 0; l < 4; ++l) {
    const Tensor& t = hwc[l];
    if (t.shape.size() != 3 || t.dim(2) != 3 * C)
      throw Error(ErrorCode::Internal, "planes_from_hwc: expected level " + std::to_string(l) +
                                           " of shape [h, w, " + std::to_string(3 * C) + "] but received " +
                                           shape_str(t.shape));
    const int64_t h = t.dim(0), w = t.dim(1);
    Tensor o = Tensor::empty({3, h, w, C});
    for (int k = 0; k < 3; ++k)
      for (int64_t i = 0; i < h * w; ++i)
        std::memcpy(o.data + (k * h * w + i) * C, t.data + i * 3 * C + k * C, sizeof(float) * C);
    p.levels[l] = o;
  }
  return p;
}

namespace {

// The four corner taps of one bilinear sample, as grid_sample computes them
// (ATen GridSamplerKernel: unnormalize, floor, nw/ne/sw/se weights).
// Out-of-range corners point at `zeros` (their weight is irrelevant then).
struct Taps {
  const float* p[4];  // nw, ne, sw, se
  float w[4];
};

inline void bilinear_taps(const float* map, int h, int w, int C, float gx, float gy, const float* zeros,
                          Taps& t) {
  const float ix = (gx + 1.f) * (static_cast<float>(w) * 0.5f) - 0.5f;
  const float iy = (gy + 1.f) * (static_cast<float>(h) * 0.5f) - 0.5f;
  const float fx = std::floor(ix), fy = std::floor(iy);
  const float wx = ix - fx, wy = iy - fy;
  const float e = 1.f - wx, s = 1.f - wy;
  t.w[0] = s * e;
  t.w[1] = s * wx;
  t.w[2] = wy * e;
  t.w[3] = wy * wx;
  // Also catches NaN: every comparison with NaN is false.
  if (!(fx >= -1.f && fx <= static_cast<float>(w) - 1.f && fy >= -1.f && fy <= static_cast<float>(h) - 1.f)) {
    t.p[0] = t.p[1] = t.p[2] = t.p[3] = zeros;
    return;
  }
  const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
  const bool vx0 = x0 >= 0, vx1 = x0 + 1 < w, vy0 = y0 >= 0, vy1 = y0 + 1 < h;
  const float* row0 = map + (static_cast<int64_t>(y0) * w + x0) * C;
  const float* row1 = row0 + static_cast<int64_t>(w) * C;
  t.p[0] = vy0 && vx0 ? row0 : zeros;
  t.p[1] = vy0 && vx1 ? row0 + C : zeros;
  t.p[2] = vy1 && vx0 ? row1 : zeros;
  t.p[3] = vy1 && vx1 ? row1 + C : zeros;
}

inline void level_taps(const Planes& P, int l, const float* pt, Taps taps[3]) {
  const float q0 = 2.f * pt[0], q1 = 2.f * pt[1], q2 = 2.f * pt[2];
  const int h = P.h(l), w = P.w(l), C = P.C;
  const float* base = P.levels[l].data;
  const int64_t plane = static_cast<int64_t>(h) * w * C;
  bilinear_taps(base, h, w, C, q0, q1, P.zeros.data(), taps[0]);              // XY
  bilinear_taps(base + plane, h, w, C, q0, q2, P.zeros.data(), taps[1]);      // XZ
  bilinear_taps(base + 2 * plane, h, w, C, q1, q2, P.zeros.data(), taps[2]);  // YZ
}

void sample_triplanes_scalar(const Planes& P, int n, const float* pts, int ps, float* out, int ldo) {
  const int C = P.C;
  Taps taps[3];
  for (int i = 0; i < n; ++i) {
    const float* pt = pts + static_cast<int64_t>(i) * ps;
    float* o = out + static_cast<int64_t>(i) * ldo;
    for (int l = 0; l < 4; ++l) {
      level_taps(P, l, pt, taps);
      for (int c = 0; c < C; ++c) {
        float acc = 0.f;
        for (int k = 0; k < 3; ++k) {
          const Taps& t = taps[k];
          float v = t.p[0][c] * t.w[0];
          v = v + t.p[1][c] * t.w[1];
          v = v + t.p[2][c] * t.w[2];
          v = v + t.p[3][c] * t.w[3];
          acc = acc + v;
        }
        o[l * C + c] = acc / 3.f;
      }
    }
  }
}

#ifdef S3D_X86
__attribute__((target("avx2,fma"))) void sample_triplanes_avx2(const Planes& P, int n, const float* pts,
                                                                 int ps, float* out, int ldo) {
  const int C = P.C;  // multiple of 8
  const __m256 third = _mm256_set1_ps(1.f / 3.f);
  Taps taps[3];
  for (int i = 0; i < n; ++i) {
    const float* pt = pts + static_cast<int64_t>(i) * ps;
    float* o = out + static_cast<int64_t>(i) * ldo;
    for (int l = 0; l < 4; ++l) {
      level_taps(P, l, pt, taps);
      for (int c = 0; c < C; c += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int k = 0; k < 3; ++k) {
          const Taps& t = taps[k];
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

// Level 0 alone (128^2 x 3 x 32 fp32 = 6 MB at s3d-64) outgrows L2, so the
// taps of point i + kAhead are computed and prefetched while point i is
// accumulated; the loop is otherwise bound by cache-miss latency.
#ifndef S3D_TRIPLANE_AHEAD
#define S3D_TRIPLANE_AHEAD 4
#endif
constexpr int kAhead = S3D_TRIPLANE_AHEAD;

inline void prefetch_taps(const Taps* taps, int n, int C) {
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < 4; ++j)
      for (int c = 0; c < C; c += 16) _mm_prefetch(reinterpret_cast<const char*>(taps[k].p[j] + c), _MM_HINT_T0);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))) void sample_triplanes_avx512(
    const Planes& P, int n, const float* pts, int ps, float* out, int ldo) {
  const int C = P.C;  // multiple of 16
  // acc * (1/3) rather than acc / 3 (torch): within 1 ulp, and a zmm divide
  // per 16 channels was a tenth of this loop.
  const __m512 third = _mm512_set1_ps(1.f / 3.f);
  Taps ring[kAhead + 1][12];
  auto prepare = [&](int i) {
    Taps* t = ring[i % (kAhead + 1)];
    const float* pt = pts + static_cast<int64_t>(i) * ps;
    for (int l = 0; l < 4; ++l) level_taps(P, l, pt, t + 3 * l);
    if (kAhead > 0) prefetch_taps(t, 12, C);
  };
  for (int i = 0; i < n && i < kAhead; ++i) prepare(i);
  for (int i = 0; i < n; ++i) {
    if (i + kAhead < n) prepare(i + kAhead);
    const Taps* taps = ring[i % (kAhead + 1)];
    float* o = out + static_cast<int64_t>(i) * ldo;
    for (int l = 0; l < 4; ++l) {
      for (int c = 0; c < C; c += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (int k = 0; k < 3; ++k) {
          const Taps& t = taps[3 * l + k];
          __m512 v = _mm512_mul_ps(_mm512_loadu_ps(t.p[0] + c), _mm512_set1_ps(t.w[0]));
          v = _mm512_fmadd_ps(_mm512_loadu_ps(t.p[1] + c), _mm512_set1_ps(t.w[1]), v);
          v = _mm512_fmadd_ps(_mm512_loadu_ps(t.p[2] + c), _mm512_set1_ps(t.w[2]), v);
          v = _mm512_fmadd_ps(_mm512_loadu_ps(t.p[3] + c), _mm512_set1_ps(t.w[3]), v);
          acc = _mm512_add_ps(acc, v);
        }
        _mm512_storeu_ps(o + l * C + c, _mm512_mul_ps(acc, third));
      }
    }
  }
}
#endif

}  // namespace

void sample_map_hwc(const float* map, int h, int w, int C, float gx, float gy, const float* zeros,
                    float* out) {
  Taps t;
  bilinear_taps(map, h, w, C, gx, gy, zeros, t);
  for (int c = 0; c < C; ++c) {
    float v = t.p[0][c] * t.w[0];
    v = v + t.p[1][c] * t.w[1];
    v = v + t.p[2][c] * t.w[2];
    v = v + t.p[3][c] * t.w[3];
    out[c] = v;
  }
}

void sample_triplanes(const Planes& planes, int n, const float* pts, int pts_stride, float* out, int ldo) {
#ifdef S3D_X86
  const Isa isa = kernel_isa();
  if (isa == Isa::Avx512 && planes.C % 16 == 0) return sample_triplanes_avx512(planes, n, pts, pts_stride, out, ldo);
  if (isa >= Isa::Avx2 && planes.C % 8 == 0) return sample_triplanes_avx2(planes, n, pts, pts_stride, out, ldo);
#endif
  sample_triplanes_scalar(planes, n, pts, pts_stride, out, ldo);
}

}  // namespace s3d
