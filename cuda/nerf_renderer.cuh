// The fused per-ray NeRF on the GPU (CPU twin: cpp/model/nerf_renderer.cc).
//
// One kernel launch renders the coarse image: ray generation, coarse depths,
// positional encoding + F_cm sample, deformation field MLP, tri-plane sampling,
// tri-plane decoder MLP, compositing, importance resampling, the fine pass, the
// stable merge and the final composite (the stages deformation_field, triplane,
// triplane_decoder and volume_render, each with a CPU twin of that name in
// cpp/model/). Per-point intermediates live in shared
// memory only; the only device-memory traffic is weights (L1/L2), planes
// (L2-resident), F_cm and the output image.
//
// Plain C++ header: includable from .cc files compiled by the host compiler
// (no CUDA keywords, no __half). Every entry point returns a cudaError_t and
// never aborts; nerf_cuda_last_error() names the failing call, file and line.
#pragma once
#include <cstddef>
#include <cuda_runtime_api.h>

namespace s3d {
namespace cuda {

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
  const float *e1_w, *e1_b, *e2_w, *e2_b, *e3_w, *e3_b;
  const float *d1_w, *d1_b, *d2_w, *d2_b, *d3_w, *d3_b;
  const float *fc1_w, *fc1_b, *fc2_w, *fc2_b;
};

// Device copies. fp32 in PyTorch layout for the CUDA-core path; fp16 copies
// zero-padded to (ceil16(out), ceil16(in)) for the tensor-core path.
struct CudaNerfWeights {
  CudaNerfDims dims;
  float* f32[16] = {};    // same order as NerfHostWeights
  void* f16[8] = {};      // __half: e1 (code columns dropped), e2, e3, d1, d2, d3, fc1, fc2
  int f16_k[8] = {}, f16_n[8] = {};  // padded K (in) and N (out)
  float* e1_bias = nullptr;  // per-frame e1 bias with the audio code folded in (h0 floats)
};

// Tri-plane pyramid on the device: 4 levels, each (3, h, w, C) channel-last
// (the Planes layout of cpp/model/triplane.h), fp32 or fp16.
struct CudaNerfPlanes {
  void* level[4] = {};
  int h[4] = {}, w[4] = {};
  int C = 0;
  bool fp16 = false;
};

struct CudaNerfParams {
  const CudaNerfWeights* weights = nullptr;
  const CudaNerfPlanes* planes = nullptr;
  const float* cm = nullptr;  // device F_cm map (cm_h, cm_w, cm_channels) channel-last
  int cm_h = 0, cm_w = 0;
  const float* code = nullptr;  // device audio code (audio_code floats)
  float pose_src[16] = {}, pose_tar[16] = {};  // row-major cam2world, host values
  float* out = nullptr;  // device (res, res, 3 + F + 1) channel-last
  bool tensor_cores = false;  // MLPs on WMMA fp16 x fp16 -> fp32
  int rays_per_block = 0;     // 0: chosen from the shared-memory budget
};

// Uploads (cudaMalloc + cudaMemcpy) the weights; on error frees what it made.
cudaError_t nerf_weights_upload(const CudaNerfDims& dims, const NerfHostWeights& host, CudaNerfWeights* out);
void nerf_weights_free(CudaNerfWeights* w);

// levels[l]: host (3, h[l], w[l], C) fp32; fp16 converts on upload (RNE).
cudaError_t nerf_planes_upload(const float* const levels[4], const int h[4], const int w[4], int C, bool fp16,
                               CudaNerfPlanes* out);
void nerf_planes_free(CudaNerfPlanes* p);

// Renders on `stream` (asynchronous; nothing is synchronised here).
cudaError_t nerf_render_cuda(const CudaNerfParams& params, cudaStream_t stream);

// Message of the last failure on this thread ("call (file:line): cuda error").
const char* nerf_cuda_last_error();

// Rounds n floats to fp16 and back in place (host), so a CPU reference can
// see the same plane values as an fp16 upload.
void nerf_round_fp16_host(float* data, size_t n);

// Shared memory one block needs, and the rays per block the launch would use.
size_t nerf_smem_bytes(const CudaNerfDims& dims, int rays_per_block, bool tensor_cores);
int nerf_default_rays_per_block(const CudaNerfDims& dims, bool tensor_cores);

}  // namespace cuda
}  // namespace s3d
