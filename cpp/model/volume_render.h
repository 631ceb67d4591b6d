// Volume rendering with midpoint quadrature (paper Eq. 5) and importance
// resampling (DESIGN §3.3). Mirrors composite, importance_depths (jitter=False)
// and merge_samples in train/s3d_nerf/volume_render.py. The per-element math,
// and merge_order whole, are model/volume_render_math.h, shared with the CUDA
// renderer; these are the CPU's per-ray loops around it.
#pragma once
#include <cstdint>

#include "model/volume_render_math.h"

namespace s3d {

// One ray of S samples sorted by depth. Sample i (i < S) reads sigma_raw at
// rows[i][sigma_col] and its C features at rows[i][0..C). Writes the feature
// image out_feat[C], alpha (sum of weights) and, if non-null, the S-1
// interval weights. The transmittance product runs in double, as torch's CPU
// cumprod accumulates.
void composite(int S, const float* depths, const float* const* rows, int sigma_col, int C, float* out_feat,
               float* alpha, float* weights);

// n inverse-CDF depths from the piecewise-constant pdf (weights + 0.01) over
// the Nc-1 coarse intervals; u_j = (j + 0.5) / n. `cdf` is Nc floats scratch.
void importance_depths(int Nc, const float* depths, const float* weights, int n, float* out, float* cdf);

// merge_order(na, a, nb, b, order, merged, b_sorted): model/volume_render_math.h.

}  // namespace s3d
