// Volume rendering math shared by the CPU engine (model/volume_render.cc,
// model/nerf_renderer.cc) and the CUDA renderer (cuda/volume_render.cuh):
// sample depths, the per-interval quadrature of composite, the inverse-CDF
// importance depths and the stable merge of coarse and fine depths. Mirrors
// train/s3d_nerf/volume_render.py (jitter=False).
//
// The loops around these differ by backend (the GPU spreads a ray's channels
// or importance samples over a warp's lanes), so what is shared is the
// per-element math, in the CPU's order of operations (core/host_device.h).
#pragma once
#include <math.h>

#include "core/host_device.h"
#include "kernels/activation.h"

namespace s3d {

constexpr float kImportanceFloor = 0.01f;

// Coarse sample i of n: the centre of bin i of [t_near, t_near + span].
S3D_HD inline float coarse_depth(float t_near, float span, int i, int n) {
  return S3D_ADD(t_near, S3D_DIV(S3D_MUL(span, S3D_ADD(static_cast<float>(i), 0.5f)), static_cast<float>(n)));
}

// The interval between samples at depths t0 <= t1 with raw densities
// sigma_raw0, sigma_raw1 (midpoint quadrature, paper Eq. 5): returns its
// weight alpha * T and advances the transmittance T, a product kept in double
// as torch's CPU cumprod accumulates.
S3D_HD inline float interval_weight(float t0, float t1, float sigma_raw0, float sigma_raw1, double* trans) {
  const float delta = S3D_SUB(t1, t0);
  const float sigma = softplus(S3D_SUB(S3D_DIV(S3D_ADD(sigma_raw1, sigma_raw0), 2.f), 1.f));
  const float a = S3D_SUB(1.f, expf(-S3D_MUL(sigma, delta)));
  const float w = S3D_MUL(a, static_cast<float>(*trans));
  *trans = S3D_DMUL(*trans, static_cast<double>(S3D_ADD(S3D_SUB(1.f, a), 1e-10f)));
  return w;
}

// acc + w * the interval's midpoint value of a feature that is v0 and v1 at its ends.
S3D_HD inline float add_midpoint(float acc, float w, float v0, float v1) {
  return S3D_ADD(acc, S3D_MUL(w, S3D_DIV(S3D_ADD(v1, v0), 2.f)));
}

// cdf (Nc floats) = [0, cumsum(pdf)] of the piecewise-constant pdf
// (weights + kImportanceFloor) / total over the Nc - 1 coarse intervals; the
// cumsum runs in double as torch's CPU cumsum does.
S3D_HD inline void importance_cdf(int Nc, const float* weights, float* cdf) {
  float total = 0.f;
  for (int i = 0; i + 1 < Nc; ++i) total = S3D_ADD(total, S3D_ADD(weights[i], kImportanceFloor));
  double acc = 0.0;
  cdf[0] = 0.f;
  for (int i = 0; i + 1 < Nc; ++i) {
    const float pdf = S3D_DIV(S3D_ADD(weights[i], kImportanceFloor), total);
    acc = S3D_DADD(acc, static_cast<double>(pdf));
    cdf[i + 1] = static_cast<float>(acc);
  }
}

// Importance depth j of n: u = (j + 0.5) / n, interval k = searchsorted(cdf, u,
// right=True) - 1 (the last k with cdf[k] <= u) clamped to [0, Nc - 2], linear
// inside it. The search starts at *k and leaves its end there: u grows with j,
// so a caller walking j upwards may carry k (0 is always a valid start).
S3D_HD inline float importance_depth(int Nc, const float* depths, const float* cdf, int j, int n, int* k) {
  const float u = S3D_DIV(S3D_ADD(static_cast<float>(j), 0.5f), static_cast<float>(n));
  int s = *k;
  while (s + 1 < Nc && cdf[s + 1] <= u) ++s;
  *k = s;
  const int kk = s < 0 ? 0 : (s > Nc - 2 ? Nc - 2 : s);
  const float c0 = cdf[kk], c1 = cdf[kk + 1];
  const float t0 = depths[kk], t1 = depths[kk + 1];
  return S3D_ADD(t0, S3D_MUL(S3D_DIV(S3D_SUB(u, c0), S3D_SUB(c1, c0)), S3D_SUB(t1, t0)));
}

// Stable merge by depth of a (na, sorted) and b (nb, any order): b is first
// insertion-sorted (stable), then merged with a winning ties - the same order
// as torch.sort(cat([a, b]), stable=True). order[i] < na indexes a, else b;
// merged (na + nb) gets the depths. b_sorted is nb ints scratch.
S3D_HD inline void merge_order(int na, const float* a, int nb, const float* b, int* order, float* merged,
                               int* b_sorted) {
  int* bs = b_sorted;
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
