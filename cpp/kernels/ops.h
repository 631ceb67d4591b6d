// Small NHWC (channel-last) helpers around the GEMM/conv kernels.
#pragma once
#include <cstdint>

#include "kernels/activation.h"

namespace s3d {

class ThreadPool;

// Bilinear resize with PyTorch F.interpolate(mode="bilinear",
// align_corners=False) half-pixel convention, sizes given (scale = in/out).
// in: H x W x C, out: Ho x Wo x C. pool may be null.
void resize_bilinear(ThreadPool* pool, const float* in, int H, int W, int C, float* out, int Ho, int Wo);
// F.interpolate(scale_factor=2, mode="bilinear", align_corners=False): out 2H x 2W x C.
void upsample_bilinear2x(ThreadPool* pool, const float* in, int H, int W, int C, float* out);
// Rows [y0, y1) x columns [x0, x1) of upsample_bilinear2x's output, written densely
// ((y1 - y0) x (x1 - x0) x C); every value equals the full call's.
void upsample_bilinear2x_window(ThreadPool* pool, const float* in, int H, int W, int C, int x0, int y0, int x1,
                                int y1, float* out);
// Non-overlapping k x k average pool, stride k (F.avg_pool2d(x, k)):
// out (H/k) x (W/k) x C, remainder rows/cols dropped like PyTorch.
void avg_pool(ThreadPool* pool, const float* in, int H, int W, int C, int k, float* out);
// In-place LayerNorm over the last dim of a rows x dim matrix (biased
// variance, like torch). gamma/beta may be null (1 / 0).
void layer_norm_rows(ThreadPool* pool, float* x, int64_t rows, int dim, const float* gamma,
                     const float* beta, float eps = 1e-5f);
// In-place softmax over the last dim of a rows x dim matrix.
void softmax_rows(ThreadPool* pool, float* x, int64_t rows, int dim);
// In-place activation over n floats (SIMD, threaded for large n).
void activation_inplace(ThreadPool* pool, float* x, int64_t n, Act act, float slope = 0.2f);

}  // namespace s3d
