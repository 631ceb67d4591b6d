// Bilinear sampling of channel-last maps on the GPU (CPU twin:
// cpp/kernels/bilinear.h), for the tri-plane sampler (triplane.cuh) and the
// F_cm sample of the deformation input (deformation_field.cuh). The corner
// and weight arithmetic is cpp/kernels/bilinear_math.h, shared with the CPU;
// here only the loads. Device code only, so a lone .cuh.
#pragma once
#ifdef __CUDACC__
#include <cuda_fp16.h>

#include "kernels/bilinear_math.h"

namespace s3d::cuda {

template <typename T>
__device__ __forceinline__ float ld_plane(const T* p);
template <>
__device__ __forceinline__ float ld_plane<float>(const float* p) { return __ldg(p); }
template <>
__device__ __forceinline__ float ld_plane<__half>(const __half* p) { return __half2float(__ldg(p)); }

// Channel c of one sample of a channel-last (h, w, C) map, fp32 or fp16, at
// grid coordinates (gx, gy) in [-1, 1] (gx along w); out-of-range corners read 0.
template <typename T>
__device__ __forceinline__ float bilinear(const T* map, int h, int w, int C, float gx, float gy, int c) {
  BilinearCorners k;
  float p0 = 0.f, p1 = 0.f, p2 = 0.f, p3 = 0.f;
  if (bilinear_corners(h, w, gx, gy, k)) {
    const T* row0 = map + (static_cast<long long>(k.y0) * w + k.x0) * C + c;
    const T* row1 = row0 + static_cast<long long>(w) * C;
    if (k.inside[0]) p0 = ld_plane<T>(row0);
    if (k.inside[1]) p1 = ld_plane<T>(row0 + C);
    if (k.inside[2]) p2 = ld_plane<T>(row1);
    if (k.inside[3]) p3 = ld_plane<T>(row1 + C);
  }
  return bilinear_combine(p0, p1, p2, p3, k.w);
}

}  // namespace s3d::cuda
#endif  // __CUDACC__
