// The tri-plane decoder on the GPU (CPU twin: cpp/model/triplane_decoder.h;
// EG3D's OSGDecoder, DESIGN §3.3): fc1 4C -> hidden + softplus, fc2 hidden ->
// 1 + F; sigma_raw = out[0], feat = sigmoid(out[1:]) * (1 + 2e-3) - 1e-3.
//
// Host part (plain C++): the weights on the device and their upload
// (triplane_decoder.cu). Device part (nvcc only): the MLP of one tile and the
// feature activation, called by the fused kernel (nerf_renderer.cu).
#pragma once
#include <cstdint>

#include "gemm.cuh"

namespace s3d::cuda {

// Host fp32 tensors in PyTorch layout ("decoder.fc1.weight", ...).
struct DecoderHostWeights {
  const float *fc1_w, *fc1_b, *fc2_w, *fc2_b;
};

struct CudaTriplaneDecoder {
  CudaLinear layer[2];  // fc1, fc2
};

// The two layers' shapes; point_feat = 4C.
void triplane_decoder_shapes(int point_feat, int hidden, int feat_channels, LinearShape out[2]);

int32_t triplane_decoder_upload(s3d_cuda_context* ctx, const DecoderHostWeights& host, int point_feat, int hidden,
                                int feat_channels, CudaTriplaneDecoder* out, s3d_cuda_error* err);

}  // namespace s3d::cuda

#ifdef __CUDACC__
namespace s3d::cuda {

// The MLP on a tile (layer: fc1, fc2 views): feat (kTile, 4C), stride ld_f ->
// hidden (kTile, hidden), stride ld_h -> out (kTile, 1 + F), stride ld_o, raw:
// column 0 sigma_raw, columns 1.. the feature logits (decoder_feature).
template <bool TC>
__device__ __forceinline__ void triplane_decoder_tile(const LinearView* layer, const float* feat, int ld_f,
                                                      float* hidden, int ld_h, float* out, int ld_o,
                                                      const TcStaging& tc) {
  linear_tile<TC>(layer[0], feat, ld_f, hidden, ld_h, Act::Softplus, tc);
  linear_tile<TC>(layer[1], hidden, ld_h, out, ld_o, Act::None, tc);
}

// A feature from its logit: sigmoid(v) * (1 + 2e-3) - 1e-3.
__device__ __forceinline__ float decoder_feature(float logit) {
  const float sg = 1.f / (1.f + expf(-logit));
  return __fsub_rn(__fmul_rn(sg, 1.f + 2e-3f), 1e-3f);
}

}  // namespace s3d::cuda
#endif  // __CUDACC__
