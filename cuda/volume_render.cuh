// Volume rendering on the GPU (CPU twin: cpp/model/volume_render.h; paper
// Eq. 5, DESIGN §3.3): compositing, importance depths and the stable merge of
// one ray by one warp. The per-element math (interval weight, midpoint sum,
// cdf, inverse-CDF depth, merge) is cpp/model/volume_render_math.h, shared
// with the CPU; here the warp loops: lanes over channels (F) when
// compositing, over importance samples when resampling.
//
// Device code only (no upload, no kernel of its own), so a lone .cuh.
#pragma once
#ifdef __CUDACC__
#include "model/volume_render_math.h"

namespace s3d::cuda {

constexpr int kMaxFLane = 4;  // F <= 128: channels per lane when compositing

// composite() for one ray, one warp: S samples, sample i at depth dep[i]
// reading res row (order ? order[i] : i) of res_ray (rows [feat (F) |
// sigma_raw], stride ldr). Writes, if non-null, the S - 1 interval weights
// (lane 0) and out = [rgb (3) = feat[0:3] | feat (F) | alpha].
__device__ __forceinline__ void composite_warp(int S, const float* dep, const float* res_ray, int ldr, int F,
                                               const int* order, float* weights, float* out) {
  const int lane = threadIdx.x & 31;
  float acc[kMaxFLane];
#pragma unroll
  for (int j = 0; j < kMaxFLane; ++j) acc[j] = 0.f;
  float wsum = 0.f;
  double trans = 1.0;
  for (int i = 0; i + 1 < S; ++i) {
    const float* r0 = res_ray + (order ? order[i] : i) * ldr;
    const float* r1 = res_ray + (order ? order[i + 1] : i + 1) * ldr;
    const float w = interval_weight(dep[i], dep[i + 1], r0[F], r1[F], &trans);
    if (weights && lane == 0) weights[i] = w;
    wsum = __fadd_rn(wsum, w);
#pragma unroll
    for (int j = 0; j < kMaxFLane; ++j) {
      const int c = lane + 32 * j;
      if (c < F) acc[j] = add_midpoint(acc[j], w, r0[c], r1[c]);
    }
  }
  if (out) {
#pragma unroll
    for (int j = 0; j < kMaxFLane; ++j) {
      const int c = lane + 32 * j;
      if (c < F) {
        out[3 + c] = acc[j];
        if (c < 3) out[c] = acc[j];
      }
    }
    if (lane == 0) out[3 + F] = wsum;
  }
}

// importance_depths() for one ray, one warp: the cdf (Nc floats) of the coarse
// weights (Nc - 1) by lane 0, then depth j of Ni by lane j % 32 into out.
__device__ __forceinline__ void importance_depths_warp(int Nc, const float* dep, const float* weights, int Ni,
                                                       float* out, float* cdf) {
  const int lane = threadIdx.x & 31;
  if (lane == 0) importance_cdf(Nc, weights, cdf);
  __syncwarp();
  for (int j = lane; j < Ni; j += 32) {
    int k = 0;  // each lane searches from the start
    out[j] = importance_depth(Nc, dep, cdf, j, Ni, &k);
  }
}

// merge_order() for one ray by lane 0 of a warp; the warp may read the result
// after it (ends with __syncwarp).
__device__ __forceinline__ void merge_order_warp(int na, const float* a, int nb, const float* b, int* order,
                                                 float* merged, int* b_sorted) {
  if ((threadIdx.x & 31) == 0) merge_order(na, a, nb, b, order, merged, b_sorted);
  __syncwarp();
}

}  // namespace s3d::cuda
#endif  // __CUDACC__
