// The arithmetic of one bilinear sample as torch's grid_sample(mode="bilinear",
// align_corners=False, padding_mode="zeros") computes it (ATen GridSamplerKernel:
// unnormalize, floor, nw/ne/sw/se weights), shared by the CPU samplers
// (kernels/bilinear.h: bilinear_taps and the scalar combines) and the CUDA ones
// (cuda/bilinear.cuh). Only the scalar math: where the corner values come
// from (pointers to C channels, fp16 loads) is each backend's.
#pragma once
#include <math.h>

#include "core/host_device.h"

namespace s3d {

struct BilinearCorners {
  float w[4];       // weights of the nw, ne, sw, se corners
  int x0, y0;       // the nw corner
  bool inside[4];   // corner inside the map (else it reads zero padding)
};

// The corners of a sample of an (h, w) map at grid coordinates (gx, gy) in
// [-1, 1] (gx along w). Returns false when no corner can be inside (x0, y0 and
// inside[] are then not set); also for NaN, as every comparison with NaN is false.
S3D_HD inline bool bilinear_corners(int h, int w, float gx, float gy, BilinearCorners& c) {
  const float ix = S3D_SUB(S3D_MUL(S3D_ADD(gx, 1.f), S3D_MUL(static_cast<float>(w), 0.5f)), 0.5f);
  const float iy = S3D_SUB(S3D_MUL(S3D_ADD(gy, 1.f), S3D_MUL(static_cast<float>(h), 0.5f)), 0.5f);
  const float fx = floorf(ix), fy = floorf(iy);
  const float wx = S3D_SUB(ix, fx), wy = S3D_SUB(iy, fy);
  const float e = S3D_SUB(1.f, wx), s = S3D_SUB(1.f, wy);
  c.w[0] = S3D_MUL(s, e);
  c.w[1] = S3D_MUL(s, wx);
  c.w[2] = S3D_MUL(wy, e);
  c.w[3] = S3D_MUL(wy, wx);
  if (!(fx >= -1.f && fx <= static_cast<float>(w) - 1.f && fy >= -1.f && fy <= static_cast<float>(h) - 1.f))
    return false;
  c.x0 = static_cast<int>(fx);
  c.y0 = static_cast<int>(fy);
  const bool vx0 = c.x0 >= 0, vx1 = c.x0 + 1 < w, vy0 = c.y0 >= 0, vy1 = c.y0 + 1 < h;
  c.inside[0] = vy0 && vx0;
  c.inside[1] = vy0 && vx1;
  c.inside[2] = vy1 && vx0;
  c.inside[3] = vy1 && vx1;
  return true;
}

// The sample from its four corner values (nw, ne, sw, se), summed in that order.
S3D_HD inline float bilinear_combine(float p0, float p1, float p2, float p3, const float* w) {
  float v = S3D_MUL(p0, w[0]);
  v = S3D_ADD(v, S3D_MUL(p1, w[1]));
  v = S3D_ADD(v, S3D_MUL(p2, w[2]));
  v = S3D_ADD(v, S3D_MUL(p3, w[3]));
  return v;
}

}  // namespace s3d
