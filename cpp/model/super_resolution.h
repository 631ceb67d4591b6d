// Super-resolution module (DESIGN §3.4; train/s3d_nerf/super_resolution.py):
// the coarse render (rgb + features + alpha at image/4) plus source-image
// features -> RGB at image size. Channel-last throughout; the concatenations
// are virtual (conv2d reads several inputs), the 1x1 toRGB convs accumulate
// onto their RGB skip in the GEMM epilogue.
#pragma once
#include <memory>
#include <mutex>
#include <vector>

#include "core/model_config.h"
#include "core/precision.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "model/pixel_box.h"

namespace s3d {

class Weights;

class SuperResolution {
 public:
  // "sr_source.*" and "sr.*"; precision applies to the per-frame convs (the
  // source convs of encodeIdentity stay fp32).
  SuperResolution(const Weights& w, const ModelConfig& cfg, Precision precision = Precision::Exact);
  ~SuperResolution();

  // Source branch, cached per identity: image_hwc (H, W, 3) in [0,1] and the
  // inner-face mask_hw (H, W) -> full (H, W, c0), half (H/2, W/2, c1), and seen
  // (H, W, 3) in [0,1], the image as the branch sees it: the masked pixels inside the
  // sr_hole box are mid-grey, feathered at its edges (hide_mouth in super_resolution.py),
  // and keep (H, W, 1) = 1 - that hole weight (filled only with sr_paste_source).
  // Tensors are (re)allocated when their shape differs.
  void source(ThreadPool& pool, const float* image_hwc, const float* mask_hw, Tensor& full, Tensor& half,
              Tensor& seen, Tensor& keep) const;

  // coarse_hwc (r, r, 3+F+1) = [rgb, feat, alpha] -> RGB (H, W, 3), H = 4r. With
  // sr_source_gate the output is g * seen + (1 - g) * generated per pixel; with
  // sr_paste_source it is keep * seen + (1 - keep) * generated (seen and keep are not
  // read otherwise). Thread-safe; intermediate buffers are reused across calls.
  Tensor forward(ThreadPool& pool, const Tensor& coarse_hwc, const Tensor& full, const Tensor& half,
                 const Tensor& seen, const Tensor& keep) const;

  // sr_paste_source only: what forward() gives, computed for the pixels of `out` only
  // (every other pixel is seen, as keep = 1 there). The SR runs on a crop of coarse,
  // half and full around `out`, coarse_window(out), so the NeRF need cast only the
  // rays of that window. Pixels of `out` match forward() up to float rounding.
  Tensor forward_window(ThreadPool& pool, const Tensor& coarse_hwc, const Tensor& full, const Tensor& half,
                        const Tensor& seen, const Tensor& keep, const PixelBox& out) const;
  // The cells of the r x r coarse grid that output box `out` reads: each output
  // pixel depends on coarse cells within 9 image pixels (3x3 convs at image/2 and
  // image, two bilinear 2x upsamplings: a band of 1 + 1 + 1 at image/2, x2 + 1, then
  // + 1 + 1 at image), so kWindowMargin = 3 cells (12 pixels) around it suffices.
  PixelBox coarse_window(const PixelBox& out) const;
  static constexpr int kWindowMargin = 3;
  // Within that crop the image-size convs (out1, out2: 3x3 each) run on `out` plus
  // kRegionMargin pixels only.
  static constexpr int kRegionMargin = 2;
  // The bounding box of keep < 1 (the pixels forward() may generate), empty when the
  // hole hides nothing.
  PixelBox hole_box(const Tensor& keep) const;

  const ModelConfig& config() const { return cfg_; }

 private:
  struct Conv1x1 {
    PackedMatrix w;
    std::vector<float> bias;
  };
  ModelConfig cfg_;
  Conv2d conv_full_, conv_half_;
  Conv2d mid1_, mid2_, out1_, out2_;
  Conv1x1 mid_rgb_, out_rgb_;

  // Intermediates of one forward (~64 MB at s3d-64), kept between frames:
  // reallocating them per frame costs more in page faults than the 1x1 convs.
  // One set per concurrent caller.
  struct Scratch;
  struct ScratchLease;
  std::unique_ptr<Scratch> acquire_scratch() const;
  void release_scratch(std::unique_ptr<Scratch> s) const;

  // The generated image of a ch x cw window of coarse cells (the whole image at
  // r x r): coarse (ch, cw, 3+F+1), half (2ch, 2cw, c1), full (4ch, 4cw, c0) ->
  // rgb (4ch, 4cw, 3) = out_rgb(h)[:3] + up2(rgb_mid); gate_logit (4ch * 4cw) gets
  // out_rgb's 4th row when given (sr_source_gate). With a region (in pixels of the
  // 4ch x 4cw image) the image-size layers run on it alone: full is then the region's
  // (height, width, c0) and rgb its (height, width, 3), exact except for the region's
  // outer kRegionMargin pixels.
  void generate(ThreadPool& pool, Scratch& sc, const float* coarse, int ch, int cw, const float* half,
                const float* full, float* rgb, float* gate_logit, const PixelBox* region = nullptr) const;
  void check_inputs(const Tensor& coarse, const Tensor& full, const Tensor& half, const Tensor& seen,
                    const Tensor& keep) const;
  mutable std::mutex scratch_mu_;
  mutable std::vector<std::unique_ptr<Scratch>> scratch_;
};

// Stage adapters on fixture layouts:
//   super_resolution_source: image (3, H, W), mask (H, W) -> full (c0, H, W), half (c1, H/2, W/2),
//     seen (3, H, W)
//   super_resolution: coarse (3+F+1, r, r), full, half, seen -> rgb (3, H, W)
TensorMap run_super_resolution_source_stage(const SuperResolution& sr, ThreadPool& pool, const TensorMap& in);
TensorMap run_super_resolution_stage(const SuperResolution& sr, ThreadPool& pool, const TensorMap& in);

}  // namespace s3d
