// The fused per-ray NeRF (paper Eqs. 2, 4, 5; mirrors render_rays in
// train/s3d_nerf/nerf_renderer.py, called by S3DNeRF.nerf, with jitter=False).
//
// Work is split over blocks of rays; a worker takes a block end to end
// (coarse depths -> points -> deformation field -> tri-plane sample -> decoder ->
// coarse weights -> importance depths -> the same on the fine points ->
// merge -> composite) in per-worker scratch allocated once per call, so the
// per-point intermediates never leave L2.
#pragma once
#include "core/model_config.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "model/camera.h"
#include "model/pixel_box.h"
#include "model/triplane.h"

namespace s3d {

class DeformationField;
class TriplaneDecoder;

// Seconds summed over workers (so on N threads they add up to ~N x wall time).
struct NerfProfile {
  double rays = 0;         // ray directions, depths
  double encoding = 0;     // positional encoding + F_cm sample (deform MLP input)
  double deform = 0;       // deform MLP GEMMs + x_s + dx
  double sampling = 0;     // tri-plane taps
  double decoder = 0;      // decoder MLP
  double compositing = 0;  // composite, importance depths, merge
};

class NerfRenderer {
 public:
  NerfRenderer(const DeformationField& deform, const TriplaneDecoder& decoder, const ModelConfig& cfg);

  // planes: the identity's tri-planes; cm_hwc: F_cm map (g, g, cm); code: the
  // audio code (cfg.audio_code floats). Returns the coarse image (r, r, 3+F+1)
  // channel-last = [rgb = feat[:3], feat, alpha]. With a window, only the rays of
  // that box of the r x r grid are cast (each exactly as in the full render) and the
  // rest of the image is 0.
  Tensor render(ThreadPool& pool, const Planes& planes, const Tensor& cm_hwc, const float* code,
                const Mat4& pose_src, const Mat4& pose_tar, NerfProfile* profile = nullptr,
                const PixelBox* window = nullptr) const;

  // 7 rays x 48 samples = 2 chunks of 168 points; 168 is a multiple of the
  // GEMM row tiles (14 for AVX-512, also 4, 6, 8, 12), so no ragged tiles at
  // s3d-64, and a chunk's intermediates (~0.4 MB) stay in L2.
  static constexpr int kBlockRays = 7;      // rays per work item
  static constexpr int kChunkPoints = 168;  // points per MLP call

 private:
  const DeformationField& deform_;
  const TriplaneDecoder& decoder_;
  ModelConfig cfg_;
};

}  // namespace s3d
