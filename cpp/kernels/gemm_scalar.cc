// Portable micro-kernel (any CPU): 4 x 8 slices, left to the compiler's
// baseline auto-vectoriser.
#include "kernels/bf16.h"
#include "kernels/gemm_internal.h"

namespace s3d {
namespace kern {
namespace {

constexpr int kMR = 4;

void tile(const TileArgs& t) {
  for (int j0 = 0; j0 < t.n; j0 += 8) {
    const int n = t.n - j0 < 8 ? t.n - j0 : 8;
    float acc[kMR][8];
    for (int i = 0; i < kMR; ++i)
      for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;
    const float* b = t.b + j0;
    for (int s = 0; s < t.nseg; ++s) {
      const float* a = t.a[s];
      for (int k = 0; k < t.ks; ++k) {
        for (int i = 0; i < kMR; ++i) {
          // Rows past m read row 0 again (always valid) and are never stored.
          const float av = a[(i < t.m ? i : 0) * t.lda + k];
          for (int j = 0; j < 8; ++j) acc[i][j] += av * b[j];
        }
        b += t.ldb;
      }
    }
    for (int i = 0; i < t.m; ++i) {
      float* c = t.c + i * t.ldc + j0;
      for (int j = 0; j < n; ++j) {
        float v = acc[i][j];
        if (t.load_c) v += c[j];
        if (t.bias) v += t.bias[j0 + j];
        c[j] = act_scalar(v, t.act, t.slope);
      }
    }
  }
}

void act_buffer(float* x, int64_t n, Act act, float slope) {
  if (act == Act::None) return;
  for (int64_t i = 0; i < n; ++i) x[i] = act_scalar(x[i], act, slope);
}

}  // namespace

Kernel kernel_scalar() { return Kernel{kMR, tile, nullptr, act_buffer, nullptr}; }

// GCC 12 at -O3 vectorises the p loop below as an in-order reduction and
// swaps the pair's two terms (the test against the avx512 tile caught it), so
// this function is kept scalar: it is the reference, not a fast path.
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-vectorize")))
#endif
void tile_bf16_reference(const TileArgsBf16& t) {
  const int64_t pair_stride = 2 * static_cast<int64_t>(t.ldb);  // bf16 values per panel row
  for (int i = 0; i < t.m; ++i)
    for (int j = 0; j < t.n; ++j) {
      float acc = t.load_c ? t.c[i * t.ldc + j] : 0.f;
      for (int s = 0; s < t.nseg; ++s)
        for (int p = 0; p < t.kp; ++p) {
          const uint16_t* a = t.a[s] + i * t.lda + 2 * p;
          const uint16_t* b = t.b + (static_cast<int64_t>(s) * t.kp + p) * pair_stride + 2 * j;
          acc += float_from_bf16(a[1]) * float_from_bf16(b[1]);
          acc += float_from_bf16(a[0]) * float_from_bf16(b[0]);
        }
      if (t.bias) acc += t.bias[j];
      t.c[i * t.ldc + j] = act_scalar(acc, t.act, t.slope);
    }
}

}  // namespace kern
}  // namespace s3d
