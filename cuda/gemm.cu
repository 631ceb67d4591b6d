// Host side of the tile layers (gemm.cuh): one nn.Linear onto the device, the
// fp32 PyTorch-layout copy and the zero-padded fp16 one the tensor cores read
// (the twin of pack_linear in cpp/kernels/gemm.h).
#include <cuda_fp16.h>

#include <utility>
#include <vector>

#include "gemm.cuh"

namespace s3d::cuda {

int32_t linear_upload(s3d_cuda_context* ctx, const LinearShape& shape, const float* weight, const float* bias,
                      CudaLinear* out, s3d_cuda_error* err) {
  *out = CudaLinear();
  if (!weight || !bias)
    return fail(err, S3D_CUDA_INVALID_ARGUMENT, "linear_upload", __FILE__, __LINE__,
                "linear_upload: a host weight or bias pointer is null");
  CudaLinear l;  // moved to *out once complete: a failure leaves *out empty
  l.shape = shape;
  const size_t n_weight = static_cast<size_t>(shape.out) * shape.in;
  S3D_CUDA_ALLOC(l.weight, ctx, n_weight, err);
  S3D_CUDA_UPLOAD(l.weight, weight, n_weight, err);
  S3D_CUDA_ALLOC(l.bias, ctx, shape.out, err);
  S3D_CUDA_UPLOAD(l.bias, bias, shape.out, err);
  // (np, kp) fp16, zero-padded: rows o < out, columns k < k_used of the weight.
  const int kp = shape.kp(), np = shape.np();
  std::vector<__half> h(static_cast<size_t>(kp) * np, __float2half_rn(0.f));
  for (int o = 0; o < shape.out; ++o)
    for (int k = 0; k < shape.k_used; ++k)
      h[static_cast<size_t>(o) * kp + k] = __float2half_rn(weight[static_cast<size_t>(o) * shape.in + k]);
  static_assert(sizeof(__half) == sizeof(uint16_t), "fp16 bits");
  S3D_CUDA_ALLOC(l.weight_f16, ctx, h.size(), err);
  S3D_CUDA_UPLOAD(l.weight_f16, reinterpret_cast<const uint16_t*>(h.data()), h.size(), err);
  *out = std::move(l);
  return S3D_CUDA_OK;
}

}  // namespace s3d::cuda
