// Bilinear taps of channel-last maps (h, w, C), as torch's grid_sample(mode="bilinear",
// align_corners=False, padding_mode="zeros") computes them (ATen GridSamplerKernel:
// unnormalize, floor, nw/ne/sw/se weights). One tap is C contiguous floats.
// Used by the tri-plane sampler (kernels/triplane_sample.h) and the deformation
// field's F_cm sample (sample_map in train/s3d_nerf/triplane.py).
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/bilinear_math.h"

namespace s3d {

// The four corners of one sample. Out-of-range corners point at `zeros`
// (their weight is irrelevant then).
struct BilinearTaps {
  const float* p[4];  // nw, ne, sw, se
  float w[4];
};

// The taps at grid coordinates (gx, gy) in [-1, 1] (gx along w): the corner
// math of kernels/bilinear_math.h (shared with the CUDA samplers) turned into
// pointers. Inline: it sits in the per-point loops of the samplers, the SIMD
// ones included.
inline void bilinear_taps(const float* map, int h, int w, int C, float gx, float gy, const float* zeros,
                          BilinearTaps& t) {
  BilinearCorners k;
  const bool in_range = bilinear_corners(h, w, gx, gy, k);
  for (int i = 0; i < 4; ++i) t.w[i] = k.w[i];
  if (!in_range) {
    t.p[0] = t.p[1] = t.p[2] = t.p[3] = zeros;
    return;
  }
  const float* row0 = map + (static_cast<int64_t>(k.y0) * w + k.x0) * C;
  const float* row1 = row0 + static_cast<int64_t>(w) * C;
  t.p[0] = k.inside[0] ? row0 : zeros;
  t.p[1] = k.inside[1] ? row0 + C : zeros;
  t.p[2] = k.inside[2] ? row1 : zeros;
  t.p[3] = k.inside[3] ? row1 + C : zeros;
}

// One bilinear sample of a channel-last map (h, w, C) at grid coordinates
// (gx, gy) in [-1, 1] (gx along w): out[C] = sample. `zeros` must hold C zeros.
// Combines the taps with the SIMD path of kernel_isa() (C % 16 for AVX-512,
// C % 8 for AVX2, else scalar).
void sample_map_hwc(const float* map, int h, int w, int C, float gx, float gy, const float* zeros,
                    float* out);

}  // namespace s3d
