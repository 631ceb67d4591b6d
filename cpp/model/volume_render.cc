#include "model/volume_render.h"

namespace s3d {

void composite(int S, const float* depths, const float* const* rows, int sigma_col, int C, float* out_feat,
               float* alpha, float* weights) {
  for (int c = 0; c < C; ++c) out_feat[c] = 0.f;
  float wsum = 0.f;
  double trans = 1.0;
  for (int i = 0; i + 1 < S; ++i) {
    const float* r0 = rows[i];
    const float* r1 = rows[i + 1];
    const float w = interval_weight(depths[i], depths[i + 1], r0[sigma_col], r1[sigma_col], &trans);
    if (weights) weights[i] = w;
    wsum += w;
    for (int c = 0; c < C; ++c) out_feat[c] = add_midpoint(out_feat[c], w, r0[c], r1[c]);
  }
  *alpha = wsum;
}

void importance_depths(int Nc, const float* depths, const float* weights, int n, float* out, float* cdf) {
  importance_cdf(Nc, weights, cdf);
  int k = 0;  // u increases with j, so the search only moves right
  for (int j = 0; j < n; ++j) out[j] = importance_depth(Nc, depths, cdf, j, n, &k);
}

}  // namespace s3d
