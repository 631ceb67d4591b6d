// Tri-plane pyramid sampling (the sampler of sample_triplanes in
// train/s3d_nerf/triplane.py; model/triplane.h owns the storage). Each of the
// 4 levels is channel-last (3 planes XY/XZ/YZ, h, w, C). A point p samples the
// planes at q = p * scale with bilinear taps (kernels/bilinear.h: grid_sample,
// align_corners=False, zero padding); per level the mean over the 3 planes,
// levels concatenated -> 4C features.
#pragma once

namespace s3d {

// A non-owning view of the 4 levels.
struct TriplaneView {
  const float* level[4];  // (3, h[l], w[l], C) each
  int h[4], w[4];
  int C;                  // channels per plane
  float scale[3];         // point -> grid coordinates
  const float* zeros;     // at least C zeros: target of out-of-range taps
};

// Features of n points (pts row stride pts_stride): out row i (stride ldo) =
// 4C floats. SIMD path of kernel_isa(): AVX-512 when C % 16 == 0, AVX2 when
// C % 8 == 0, else scalar.
void triplane_sample(const TriplaneView& planes, int n, const float* pts, int pts_stride, float* out, int ldo);

}  // namespace s3d
