// The tri-plane pyramid on the GPU (CPU twin: cpp/model/triplane.h, whose
// sampler is cpp/kernels/triplane_sample.h). Each of the 4 levels is
// channel-last (3 planes XY/XZ/YZ, h, w, C); a point p samples the planes at
// q = p * plane_scale (bilinear.cuh); per level the mean over the 3 planes,
// levels concatenated -> 4C features.
//
// Host part (plain C++): the planes on the device (fp32, or fp16 for half the
// L2 footprint) and their upload (triplane.cu). Device part (nvcc only): the
// features of one tile, called by the fused kernel (nerf_renderer.cu).
#pragma once
#include <cstddef>
#include <cstdint>

#include "device_buffer.cuh"

namespace s3d::cuda {

struct CudaTriplanes {
  DeviceBuffer<float> f32[4];     // (3, h, w, C) per level, when !fp16
  DeviceBuffer<uint16_t> f16[4];  // the same as __half bits, when fp16
  int h[4] = {}, w[4] = {};
  int C = 0;
  bool fp16 = false;

  const void* level(int l) const {
    return fp16 ? static_cast<const void*>(f16[l].data()) : static_cast<const void*>(f32[l].data());
  }
};

// levels[l]: host (3, h[l], w[l], C) fp32; fp16 converts on the device (RNE).
int32_t triplane_upload(s3d_cuda_context* ctx, const float* const levels[4], const int h[4], const int w[4], int C,
                        bool fp16, CudaTriplanes* out, s3d_cuda_error* err);

// Rounds n floats to fp16 and back in place (host), so that a CPU reference
// sees the plane values of an fp16 upload.
void triplane_round_fp16_host(float* data, std::size_t n);

}  // namespace s3d::cuda

#ifdef __CUDACC__
#include "bilinear.cuh"
#include "gemm.cuh"  // kTile

namespace s3d::cuda {

// Features (kTile, 4C), row stride ld, of the tile's points pts (kTile, 3):
// levels[l] (3, lh[l], lw[l], C) of type PT (float or __half), q = scale * p.
// Ends with a barrier.
template <typename PT>
__device__ __forceinline__ void triplane_tile(const void* const* levels, const int* lh, const int* lw, int C,
                                              const float* scale, const float* pts, float* feat, int ld) {
  const int C4 = 4 * C;
  for (int i = threadIdx.x; i < kTile * C4; i += blockDim.x) {
    const int p = i / C4, q = i - p * C4, l = q / C, c = q - l * C;
    const float q0 = scale[0] * pts[p * 3], q1 = scale[1] * pts[p * 3 + 1], q2 = scale[2] * pts[p * 3 + 2];
    const int h = lh[l], w = lw[l];
    const PT* base = static_cast<const PT*>(levels[l]);
    const long long plane = static_cast<long long>(h) * w * C;
    float acc = bilinear<PT>(base, h, w, C, q0, q1, c);                          // XY
    acc = __fadd_rn(acc, bilinear<PT>(base + plane, h, w, C, q0, q2, c));       // XZ
    acc = __fadd_rn(acc, bilinear<PT>(base + 2 * plane, h, w, C, q1, q2, c));   // YZ
    feat[p * ld + q] = __fdiv_rn(acc, 3.f);
  }
  __syncthreads();
}

}  // namespace s3d::cuda
#endif  // __CUDACC__
