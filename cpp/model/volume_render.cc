#include "model/volume_render.h"

#include <cmath>
#include <cstring>

#include "kernels/activation.h"

namespace s3d {

void composite(int S, const float* depths, const float* const* rows, int sigma_col, int C, float* out_feat,
               float* alpha, float* weights) {
  for (int c = 0; c < C; ++c) out_feat[c] = 0.f;
  float wsum = 0.f;
  double trans = 1.0;
  for (int i = 0; i + 1 < S; ++i) {
    const float* r0 = rows[i];
    const float* r1 = rows[i + 1];
    const float delta = depths[i + 1] - depths[i];
    const float sigma = act_scalar((r1[sigma_col] + r0[sigma_col]) / 2.f - 1.f, Act::Softplus);
    const float a = 1.f - std::exp(-(sigma * delta));
    const float w = a * static_cast<float>(trans);
    trans *= static_cast<double>((1.f - a) + 1e-10f);
    if (weights) weights[i] = w;
    wsum += w;
    for (int c = 0; c < C; ++c) out_feat[c] += w * ((r1[c] + r0[c]) / 2.f);
  }
  *alpha = wsum;
}

void importance_depths(int Nc, const float* depths, const float* weights, int n, float* out, float* cdf) {
  float total = 0.f;
  for (int i = 0; i + 1 < Nc; ++i) total += weights[i] + kImportanceFloor;
  // cdf = [0, cumsum(pdf)]; torch's CPU cumsum accumulates in double.
  double acc = 0.0;
  cdf[0] = 0.f;
  for (int i = 0; i + 1 < Nc; ++i) {
    const float pdf = (weights[i] + kImportanceFloor) / total;
    acc += pdf;
    cdf[i + 1] = static_cast<float>(acc);
  }
  int k = 0;  // u increases with j, so the search only moves right
  for (int j = 0; j < n; ++j) {
    const float u = (static_cast<float>(j) + 0.5f) / static_cast<float>(n);
    // searchsorted(right=True) - 1: the last index with cdf <= u.
    while (k + 1 < Nc && cdf[k + 1] <= u) ++k;
    int kk = k < 0 ? 0 : (k > Nc - 2 ? Nc - 2 : k);
    const float c0 = cdf[kk], c1 = cdf[kk + 1];
    const float t0 = depths[kk], t1 = depths[kk + 1];
    out[j] = t0 + (u - c0) / (c1 - c0) * (t1 - t0);
  }
}

void merge_order(int na, const float* a, int nb, const float* b, int* order, float* merged, int* bs) {
  for (int j = 0; j < nb; ++j) {
    int p = j;
    while (p > 0 && b[bs[p - 1]] > b[j]) {
      bs[p] = bs[p - 1];
      --p;
    }
    bs[p] = j;
  }
  int i = 0, j = 0, o = 0;
  while (i < na && j < nb) {
    if (b[bs[j]] < a[i]) {
      merged[o] = b[bs[j]];
      order[o++] = na + bs[j++];
    } else {
      merged[o] = a[i];
      order[o++] = i++;
    }
  }
  while (i < na) {
    merged[o] = a[i];
    order[o++] = i++;
  }
  while (j < nb) {
    merged[o] = b[bs[j]];
    order[o++] = na + bs[j++];
  }
}

}  // namespace s3d
