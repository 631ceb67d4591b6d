// Bilinear taps of channel-last maps (h, w, C), as torch's grid_sample(mode="bilinear",
// align_corners=False, padding_mode="zeros") computes them (ATen GridSamplerKernel:
// unnormalize, floor, nw/ne/sw/se weights). One tap is C contiguous floats.
// Used by the tri-plane sampler (kernels/triplane_sample.h) and the deformation
// field's F_cm sample (sample_map in train/s3d_nerf/triplane.py).
#pragma once
#include <cmath>
#include <cstdint>

namespace s3d {

// The four corners of one sample. Out-of-range corners point at `zeros`
// (their weight is irrelevant then).
struct BilinearTaps {
  const float* p[4];  // nw, ne, sw, se
  float w[4];
};

// The taps at grid coordinates (gx, gy) in [-1, 1] (gx along w). Inline: it
// sits in the per-point loops of the samplers, the SIMD ones included.
inline void bilinear_taps(const float* map, int h, int w, int C, float gx, float gy, const float* zeros,
                          BilinearTaps& t) {
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

// One bilinear sample of a channel-last map (h, w, C) at grid coordinates
// (gx, gy) in [-1, 1] (gx along w): out[C] = sample. `zeros` must hold C zeros.
// Combines the taps with the SIMD path of kernel_isa() (C % 16 for AVX-512,
// C % 8 for AVX2, else scalar).
void sample_map_hwc(const float* map, int h, int w, int C, float gx, float gy, const float* zeros,
                    float* out);

}  // namespace s3d
