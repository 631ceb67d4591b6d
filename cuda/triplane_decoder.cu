// Host side of the tri-plane decoder on the GPU (triplane_decoder.cuh): the
// weights' upload.
#include "triplane_decoder.cuh"

#include <utility>

namespace s3d::cuda {

void triplane_decoder_shapes(int point_feat, int hidden, int feat_channels, LinearShape out[2]) {
  out[0] = {hidden, point_feat, point_feat};
  out[1] = {1 + feat_channels, hidden, hidden};
}

int32_t triplane_decoder_upload(s3d_cuda_context* ctx, const DecoderHostWeights& host, int point_feat, int hidden,
                                int feat_channels, CudaTriplaneDecoder* out, s3d_cuda_error* err) {
  *out = CudaTriplaneDecoder();
  CudaTriplaneDecoder dec;  // moved to *out once complete: a failure leaves *out empty
  LinearShape shapes[2];
  triplane_decoder_shapes(point_feat, hidden, feat_channels, shapes);
  S3D_CUDA_TRY(linear_upload(ctx, shapes[0], host.fc1_w, host.fc1_b, &dec.layer[0], err));
  S3D_CUDA_TRY(linear_upload(ctx, shapes[1], host.fc2_w, host.fc2_b, &dec.layer[1], err));
  *out = std::move(dec);
  return S3D_CUDA_OK;
}

}  // namespace s3d::cuda
