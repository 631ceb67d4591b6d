// Tri-plane pyramid storage and sampling (DESIGN §3.1; mirrors plane_coords,
// sample_map and sample_triplanes in train/s3d_nerf/encoder.py).
//
// Each level is stored channel-last as (3 planes, h, w, C) so one bilinear
// tap is C contiguous floats. Sampling is grid_sample(bilinear,
// align_corners=False, padding zeros) at XY/XZ/YZ coordinates 2*p; per level
// the mean over the 3 planes, levels concatenated -> 4C features.
#pragma once
#include <array>
#include <vector>

#include "core/tensor.h"

namespace s3d {

struct Planes {
  int C = 0;                     // channels per plane
  std::array<Tensor, 4> levels;  // (3, h, w, C) each
  std::vector<float> zeros;      // C zeros (+ padding): target of out-of-range taps
  std::array<float, 3> scale = {2.f, 2.f, 2.f};  // point -> grid coordinates (ModelConfig::plane_scale)

  bool empty() const { return C == 0; }
  int h(int l) const { return static_cast<int>(levels[l].dim(1)); }
  int w(int l) const { return static_cast<int>(levels[l].dim(2)); }
};

// From the encoder's channel-last levels (h, w, 3C), plane k = channels [kC, (k+1)C).
Planes planes_from_hwc(const std::array<Tensor, 4>& hwc, int C, const std::array<float, 3>& scale);

// One bilinear sample of a channel-last map (h, w, C) at grid coordinates
// (gx, gy) in [-1, 1] (gx along w): out[C] = sample. `zeros` must hold C zeros.
void sample_map_hwc(const float* map, int h, int w, int C, float gx, float gy, const float* zeros,
                    float* out);

// Features of n points (pts row stride pts_stride, xyz in the source frame):
// out row i (stride ldo) = 4C floats. Picks the SIMD path of kernel_isa().
void sample_triplanes(const Planes& planes, int n, const float* pts, int pts_stride, float* out,
                      int ldo);

}  // namespace s3d
