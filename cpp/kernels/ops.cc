#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"

namespace s3d {

namespace {

void run(ThreadPool* pool, int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (pool) pool->parallel_for(n, grain, fn);
  else if (n > 0) fn(0, n, 0);
}

struct Tap {
  int i0, i1;
  float w0, w1;
};

// PyTorch area_pixel_compute_source_index (align_corners=False, cubic=false).
std::vector<Tap> taps(int in, int out) {
  std::vector<Tap> t(out);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int o = 0; o < out; ++o) {
    float src = std::max(0.f, scale * (o + 0.5f) - 0.5f);
    int i0 = std::min(static_cast<int>(src), in - 1);
    int i1 = std::min(i0 + 1, in - 1);
    float l = src - static_cast<float>(i0);
    t[o] = {i0, i1, 1.f - l, l};
  }
  return t;
}

}  // namespace

// resize_bilinear's output rows [oy0, oy1) x columns [ox0, ox1), written densely.
static void resize_window(ThreadPool* pool, const float* in, int H, int W, int C, float* out, int Ho, int Wo, int ox0,
                          int oy0, int ox1, int oy1) {
  if (H <= 0 || W <= 0 || C <= 0 || Ho <= 0 || Wo <= 0)
    throw Error(ErrorCode::InvalidArgument, "Expected positive sizes for resize_bilinear but received " +
                                                std::to_string(H) + "x" + std::to_string(W) + "x" +
                                                std::to_string(C) + " -> " + std::to_string(Ho) + "x" +
                                                std::to_string(Wo));
  if (ox0 < 0 || oy0 < 0 || ox1 > Wo || oy1 > Ho || ox1 <= ox0 || oy1 <= oy0)
    throw Error(ErrorCode::InvalidArgument, "Expected a non-empty window inside the " + std::to_string(Ho) + "x" +
                                                std::to_string(Wo) + " output for resize_bilinear");
  const std::vector<Tap> ty = taps(H, Ho), tx = taps(W, Wo);
  const int ow = ox1 - ox0;
  run(pool, oy1 - oy0, 4, [&](int64_t y0, int64_t y1, int) {
    for (int64_t y = y0; y < y1; ++y) {
      const Tap& a = ty[oy0 + y];
      const float* r0 = in + static_cast<size_t>(a.i0) * W * C;
      const float* r1 = in + static_cast<size_t>(a.i1) * W * C;
      float* o = out + static_cast<size_t>(y) * ow * C;
      for (int x = ox0; x < ox1; ++x, o += C) {
        const Tap& b = tx[x];
        const float* p00 = r0 + static_cast<size_t>(b.i0) * C;
        const float* p01 = r0 + static_cast<size_t>(b.i1) * C;
        const float* p10 = r1 + static_cast<size_t>(b.i0) * C;
        const float* p11 = r1 + static_cast<size_t>(b.i1) * C;
        // Same association as PyTorch's CPU kernel: h0*(w0*p00 + w1*p01) + h1*(...).
        for (int c = 0; c < C; ++c)
          o[c] = a.w0 * (b.w0 * p00[c] + b.w1 * p01[c]) + a.w1 * (b.w0 * p10[c] + b.w1 * p11[c]);
      }
    }
  });
}

void resize_bilinear(ThreadPool* pool, const float* in, int H, int W, int C, float* out, int Ho, int Wo) {
  resize_window(pool, in, H, W, C, out, Ho, Wo, 0, 0, Wo, Ho);
}

void upsample_bilinear2x(ThreadPool* pool, const float* in, int H, int W, int C, float* out) {
  resize_bilinear(pool, in, H, W, C, out, 2 * H, 2 * W);
}

void upsample_bilinear2x_window(ThreadPool* pool, const float* in, int H, int W, int C, int x0, int y0, int x1,
                                int y1, float* out) {
  resize_window(pool, in, H, W, C, out, 2 * H, 2 * W, x0, y0, x1, y1);
}

void avg_pool(ThreadPool* pool, const float* in, int H, int W, int C, int k, float* out) {
  if (k <= 0 || H < k || W < k || C <= 0)
    throw Error(ErrorCode::InvalidArgument, "Expected 0 < k <= H, W for avg_pool but received k=" +
                                                std::to_string(k) + " on " + std::to_string(H) + "x" +
                                                std::to_string(W));
  const int Ho = H / k, Wo = W / k;
  const float inv = 1.f / static_cast<float>(k * k);
  run(pool, Ho, 1, [&](int64_t y0, int64_t y1, int) {
    std::vector<float> acc(C);
    for (int64_t y = y0; y < y1; ++y)
      for (int x = 0; x < Wo; ++x) {
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int dy = 0; dy < k; ++dy)
          for (int dx = 0; dx < k; ++dx) {
            const float* p = in + (static_cast<size_t>(y * k + dy) * W + x * k + dx) * C;
            for (int c = 0; c < C; ++c) acc[c] += p[c];
          }
        float* o = out + (static_cast<size_t>(y) * Wo + x) * C;
        for (int c = 0; c < C; ++c) o[c] = acc[c] * inv;
      }
  });
}

void layer_norm_rows(ThreadPool* pool, float* x, int64_t rows, int dim, const float* gamma, const float* beta,
                     float eps) {
  if (dim <= 0) return;
  run(pool, rows, std::max<int64_t>(1, 4096 / dim), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      float* v = x + r * dim;
      double s = 0;
      for (int i = 0; i < dim; ++i) s += v[i];
      const float mean = static_cast<float>(s / dim);
      double q = 0;
      for (int i = 0; i < dim; ++i) q += static_cast<double>(v[i] - mean) * (v[i] - mean);
      const float rstd = static_cast<float>(1.0 / std::sqrt(q / dim + eps));
      for (int i = 0; i < dim; ++i) {
        float y = (v[i] - mean) * rstd;
        if (gamma) y *= gamma[i];
        if (beta) y += beta[i];
        v[i] = y;
      }
    }
  });
}

void softmax_rows(ThreadPool* pool, float* x, int64_t rows, int dim) {
  if (dim <= 0) return;
  run(pool, rows, std::max<int64_t>(1, 4096 / dim), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      float* v = x + r * dim;
      float mx = v[0];
      for (int i = 1; i < dim; ++i) mx = std::max(mx, v[i]);
      float s = 0.f;
      for (int i = 0; i < dim; ++i) {
        v[i] = std::exp(v[i] - mx);
        s += v[i];
      }
      const float inv = 1.f / s;
      for (int i = 0; i < dim; ++i) v[i] *= inv;
    }
  });
}

void activation_inplace(ThreadPool* pool, float* x, int64_t n, Act act, float slope) {
  if (act == Act::None || n <= 0) return;
  constexpr int64_t kBlock = 16384;  // multiple of 16: chunks stay vector-aligned
  run(pool, (n + kBlock - 1) / kBlock, 1, [&](int64_t b0, int64_t b1, int) {
    const int64_t i0 = b0 * kBlock, i1 = std::min(n, b1 * kBlock);
    apply_activation(x + i0, i1 - i0, act, slope);
  });
}

}  // namespace s3d
