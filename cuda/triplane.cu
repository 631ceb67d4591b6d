// Host side of the tri-planes on the GPU (triplane.cuh): the upload, with the
// fp16 conversion done on the device.
#include "triplane.cuh"

#include <cuda_fp16.h>

#include <utility>

namespace s3d::cuda {

namespace {

__global__ void to_half_kernel(const float* in, __half* out, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = __float2half_rn(in[i]);
}

}  // namespace

int32_t triplane_upload(s3d_cuda_context* ctx, const float* const levels[4], const int h[4], const int w[4], int C,
                        bool fp16, CudaTriplanes* out, s3d_cuda_error* err) {
  *out = CudaTriplanes();
  CudaTriplanes t;  // moved to *out once complete: a failure leaves *out empty
  t.C = C;
  t.fp16 = fp16;
  for (int l = 0; l < 4; ++l) {
    t.h[l] = h[l];
    t.w[l] = w[l];
    if (!levels[l])
      return fail(err, S3D_CUDA_INVALID_ARGUMENT, "triplane_upload", __FILE__, __LINE__,
                  "triplane_upload: a host level pointer is null");
    const size_t n = static_cast<size_t>(3) * h[l] * w[l] * C;
    if (!fp16) {
      S3D_CUDA_ALLOC(t.f32[l], ctx, n, err);
      S3D_CUDA_UPLOAD(t.f32[l], levels[l], n, err);
      continue;
    }
    DeviceBuffer<float> staging;  // the fp32 level, freed at the end of this iteration
    S3D_CUDA_ALLOC(t.f16[l], ctx, n, err);
    S3D_CUDA_ALLOC(staging, ctx, n, err);
    S3D_CUDA_UPLOAD(staging, levels[l], n, err);
    const cudaStream_t stream = staging.stream();
    to_half_kernel<<<256, 256, 0, stream>>>(staging.data(), reinterpret_cast<__half*>(t.f16[l].data()), n);
    S3D_CUDA_CHECK_LAUNCH("to_half_kernel", err);
    // Waits for the conversion: its errors belong to this upload, and staging is freed next.
    S3D_CUDA_CHECK(cudaStreamSynchronize(stream), err);
  }
  *out = std::move(t);
  return S3D_CUDA_OK;
}

void triplane_round_fp16_host(float* data, size_t n) {
  for (size_t i = 0; i < n; ++i) data[i] = __half2float(__float2half_rn(data[i]));
}

}  // namespace s3d::cuda
