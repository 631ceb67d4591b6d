// Private interface between the GEMM/conv drivers and the per-ISA micro-kernels.
#pragma once
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/isa.h"

namespace s3d {
namespace kern {

// One register tile: C[m x n] = act(sum_s A_s[m x ks] * B_s + bias) (+C).
// The K dimension is split into nseg segments of ks columns each; segment s
// reads rows a[s] + i*lda and the packed panel rows [s*ks, (s+1)*ks). Plain
// GEMM uses one segment; a 3x3 convolution uses one per tap, so the tile never
// leaves registers between taps.
struct TileArgs {
  const float* const* a = nullptr;
  int nseg = 1, ks = 0;
  int64_t lda = 0;
  const float* b = nullptr;  // packed panel start
  int ldb = 32;              // panel width (8, 16, 24 or 32)
  float* c = nullptr;
  int64_t ldc = 0;
  int m = 0, n = 0;          // m <= mr, n <= ldb
  bool load_c = false;
  const float* bias = nullptr;  // already offset to the panel's first column
  Act act = Act::None;
  float slope = 0.2f;
};

// The bf16 tile (fast precision): as TileArgs, with A and B in bf16 pairs.
// Segment s reads rows a[s] + i*lda (lda in bf16 elements) and pairs
// [s*kp, (s+1)*kp) of the panel, which holds ldb columns x 2 values per pair.
struct TileArgsBf16 {
  const uint16_t* const* a = nullptr;
  int nseg = 1, kp = 0;  // kp: (k, k+1) pairs per segment
  int64_t lda = 0;
  const uint16_t* b = nullptr;
  int ldb = 32;
  float* c = nullptr;
  int64_t ldc = 0;
  int m = 0, n = 0;
  bool load_c = false;
  const float* bias = nullptr;
  Act act = Act::None;
  float slope = 0.2f;
};

// Small-N path: C[i][n] (+)= dot(A row i, w + n*kdot) + bias[n], n < N <= 4,
// no activation (the driver applies it). Null for the scalar kernel.
struct DotArgs {
  int m = 0, n = 0, k = 0, kdot = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* w = nullptr;
  float* c = nullptr;
  int64_t ldc = 0;
  bool load_c = false;
  const float* bias = nullptr;
};

struct Kernel {
  int mr;                                            // rows per tile
  void (*tile)(const TileArgs&);
  void (*dot)(const DotArgs&);                       // may be null
  void (*act)(float* x, int64_t n, Act act, float slope);  // in-place buffer activation
  void (*tile_bf16)(const TileArgsBf16&);            // null unless the CPU has AVX512-BF16
};

// The reference twin of the bf16 tiles, for tests: the same sums in the same
// order (per pair, acc += a1*b1 then acc += a0*b0; the products are exact),
// written plainly. Any m <= 32.
void tile_bf16_reference(const TileArgsBf16& t);

Kernel kernel_scalar();
Kernel kernel_avx2();    // only valid when the CPU has AVX2+FMA
Kernel kernel_avx512();  // only valid when the CPU has AVX-512 F/BW/VL/DQ

const Kernel& kernel_for(Isa isa);

}  // namespace kern
}  // namespace s3d
