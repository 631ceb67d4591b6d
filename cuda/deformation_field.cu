// Host side of the deformation field on the GPU (deformation_field.cuh): the
// weights' upload and the per-frame fold of the audio code into e1's bias.
#include "deformation_field.cuh"

#include <utility>

#include "model/deformation_field_math.h"

namespace s3d::cuda {

namespace {

// One thread per output o of e1 (h0): the CPU's DeformationField::fold_code.
__global__ void fold_code_kernel(const float* e1_w, int din, int in_dim, int code_len, const float* e1_b,
                                 const float* code, float* out, int h0) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= h0) return;
  out[o] = fold_code_row(e1_w + static_cast<long long>(o) * din + in_dim, code, code_len, e1_b[o]);
}

}  // namespace

void deformation_field_shapes(int in_dim, int code, int h0, int h1, int h2, LinearShape out[6]) {
  out[0] = {h0, in_dim + code, in_dim};  // e1: the code columns are folded into the bias
  out[1] = {h1, h0, h0};
  out[2] = {h2, h1, h1};
  out[3] = {h1, h2, h2};
  out[4] = {h0, 2 * h1, 2 * h1};
  out[5] = {3, 2 * h0, 2 * h0};
}

int32_t deformation_field_upload(s3d_cuda_context* ctx, const DeformationHostWeights& host, int in_dim, int code,
                                 int h0, int h1, int h2, CudaDeformationField* out, s3d_cuda_error* err) {
  *out = CudaDeformationField();
  CudaDeformationField f;  // moved to *out once complete: a failure leaves *out empty
  LinearShape shapes[6];
  deformation_field_shapes(in_dim, code, h0, h1, h2, shapes);
  const float* const w[6] = {host.e1_w, host.e2_w, host.e3_w, host.d1_w, host.d2_w, host.d3_w};
  const float* const b[6] = {host.e1_b, host.e2_b, host.e3_b, host.d1_b, host.d2_b, host.d3_b};
  for (int i = 0; i < 6; ++i) S3D_CUDA_TRY(linear_upload(ctx, shapes[i], w[i], b[i], &f.layer[i], err));
  S3D_CUDA_ALLOC(f.e1_bias, ctx, h0, err);
  f.in_dim = in_dim;
  f.code = code;
  *out = std::move(f);
  return S3D_CUDA_OK;
}

int32_t deformation_field_fold_code(const CudaDeformationField& field, const float* code, cudaStream_t stream,
                                    s3d_cuda_error* err) {
  const CudaLinear& e1 = field.layer[0];
  const int h0 = e1.shape.out;
  fold_code_kernel<<<(h0 + 127) / 128, 128, 0, stream>>>(e1.weight.data(), e1.shape.in, field.in_dim, field.code,
                                                         e1.bias.data(), code, field.e1_bias.data(), h0);
  S3D_CUDA_CHECK_LAUNCH("fold_code_kernel", err);
  return S3D_CUDA_OK;
}

}  // namespace s3d::cuda
