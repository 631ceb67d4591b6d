// The fused per-ray NeRF on the GPU (CPU twin: cpp/model/nerf_renderer.cc).
//
// One kernel launch renders the coarse image: ray generation, coarse depths,
// positional encoding + F_cm sample, deformation field MLP, tri-plane sampling,
// tri-plane decoder MLP, compositing, importance resampling, the fine pass, the
// stable merge and the final composite. The kernel (nerf_renderer.cu) chains
// the ops, one .cuh/.cu pair each with a CPU twin of the same name:
// deformation_field, triplane, triplane_decoder, volume_render (over gemm and
// bilinear). Per-point intermediates live in shared memory only; the only
// device-memory traffic is weights (L1/L2), planes (L2-resident), F_cm and
// the output image.
//
// Plain C++ header: includable from .cc files compiled by the host compiler
// (the ops' device code is behind __CUDACC__). Every entry point returns an
// s3d_cuda_status and fills err (the plugin's error path, plugin_internal.h);
// nothing aborts. Device memory is owned by DeviceBuffer (device_buffer.cuh):
// ctx = nullptr allocates with cudaMalloc, a context with the plugin's tracked
// allocator.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "deformation_field.cuh"
#include "triplane.cuh"
#include "triplane_decoder.cuh"

namespace s3d::cuda {

// Model dimensions: a ModelConfig subset under the same names (h0..h2 =
// deform_hidden), defaults those of s3d-64; train/tests/test_config_sync.py checks
// both against train/s3d_nerf/config.py.
struct CudaNerfDims {
  int render_size = 64;
  int n_coarse = 24, n_importance = 24;
  int feat_channels = 32;   // F: decoder outputs 1 + F
  int plane_channels = 32;  // C: tri-plane channels; point feature 4C
  int cm_channels = 64;
  int audio_code = 64;
  int pe_freqs = 6;
  int h0 = 128, h1 = 64, h2 = 32;  // deform_hidden
  int decoder_hidden = 64;
  float ray_near = 2.25f, ray_far = 3.3f, focal = 4.2647f, cam_radius = 2.7f;
  float plane_scale[3] = {2.f, 2.f, 2.f};  // point -> plane / F_cm grid coordinates (ModelConfig::plane_scale)

  int pe_dim() const { return 3 + 6 * pe_freqs; }
  int deform_in() const { return pe_dim() + cm_channels + audio_code; }
  int point_feat() const { return 4 * plane_channels; }
  int coarse_channels() const { return 3 + feat_channels + 1; }
};

// The fp32 host tensors in PyTorch layout (linear: (out, in)), exactly the
// ones the CPU classes read from the model file ("deform.e1.weight", ...).
struct NerfHostWeights {
  DeformationHostWeights deform;
  DecoderHostWeights decoder;
};

struct CudaNerfWeights {
  CudaNerfDims dims;
  CudaDeformationField deform;
  CudaTriplaneDecoder decoder;
};

struct CudaNerfParams {
  const CudaNerfWeights* weights = nullptr;
  const CudaTriplanes* planes = nullptr;  // triplane_upload
  const float* cm = nullptr;  // device F_cm map (cm_h, cm_w, cm_channels) channel-last
  int cm_h = 0, cm_w = 0;
  const float* code = nullptr;  // device audio code (audio_code floats)
  float pose_src[16] = {}, pose_tar[16] = {};  // row-major cam2world, host values
  float* out = nullptr;  // device (res, res, 3 + F + 1) channel-last
  bool tensor_cores = false;  // MLPs on WMMA fp16 x fp16 -> fp32
  int rays_per_block = 0;     // 0: chosen from the shared-memory budget
};

// Uploads the deformation field and decoder weights. On failure *out is empty.
int32_t nerf_weights_upload(s3d_cuda_context* ctx, const CudaNerfDims& dims, const NerfHostWeights& host,
                            CudaNerfWeights* out, s3d_cuda_error* err);

// Renders on `stream` (asynchronous; nothing is synchronised here). Folds the
// audio code into params.weights' per-frame e1 bias first, so one weights
// object serves one stream at a time.
int32_t nerf_render_cuda(const CudaNerfParams& params, cudaStream_t stream, s3d_cuda_error* err);

// Shared memory one block needs, and the rays per block the launch would use.
std::size_t nerf_smem_bytes(const CudaNerfDims& dims, int rays_per_block, bool tensor_cores);
int nerf_default_rays_per_block(const CudaNerfDims& dims, bool tensor_cores);

}  // namespace s3d::cuda
