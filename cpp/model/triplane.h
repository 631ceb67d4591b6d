// Tri-plane pyramid storage and sampling (DESIGN §3.1; mirrors plane_coords
// and sample_triplanes in train/s3d_nerf/triplane.py). The SIMD sampler is
// kernels/triplane_sample.h, sample_map's twin kernels/bilinear.h (sample_map_hwc).
//
// Each level is stored channel-last as (3 planes, h, w, C) so one bilinear
// tap is C contiguous floats. Sampling is grid_sample(bilinear,
// align_corners=False, padding zeros) at XY/XZ/YZ coordinates q = p * plane_scale
// (config.plane_extent / plane_y_down; 2*p in older files); per level
// the mean over the 3 planes, levels concatenated -> 4C features.
#pragma once
#include <array>
#include <vector>

#include "core/tensor.h"
#include "kernels/triplane_sample.h"

namespace s3d {

struct Planes {
  int C = 0;                     // channels per plane
  std::array<Tensor, 4> levels;  // (3, h, w, C) each
  std::vector<float> zeros;      // C zeros (+ padding): target of out-of-range taps
  std::array<float, 3> scale = {2.f, 2.f, 2.f};  // point -> grid coordinates (ModelConfig::plane_scale)

  bool empty() const { return C == 0; }
  int h(int l) const { return static_cast<int>(levels[l].dim(1)); }
  int w(int l) const { return static_cast<int>(levels[l].dim(2)); }
  TriplaneView view() const;  // for the kernel (kernels/triplane_sample.h)
};

// From the encoder's channel-last levels (h, w, 3C), plane k = channels [kC, (k+1)C).
Planes planes_from_hwc(const std::array<Tensor, 4>& hwc, int C, const std::array<float, 3>& scale);

// Features of n points (pts row stride pts_stride, xyz in the source frame):
// out row i (stride ldo) = 4C floats, by triplane_sample (kernels/triplane_sample.h).
void sample_triplanes(const Planes& planes, int n, const float* pts, int pts_stride, float* out,
                      int ldo);

}  // namespace s3d
