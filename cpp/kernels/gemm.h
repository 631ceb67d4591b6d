// fp32 GEMM for the engine: C = act(A * B + bias), A row-major (runtime
// activations), B pre-packed once at load time (weights).
//
// B is stored as column panels of 32 (the last panel is N's remainder rounded
// up to 8, zero-padded), each panel K-major, so every micro-kernel streams one
// contiguous panel. The layout does not depend on the ISA chosen at run time.
// A is read in place (no packing); the micro-kernels keep a whole
// MR x panel tile in registers over the full K and apply bias + activation
// before the single store of C.
//
// Fast precision: add_bf16_panels() adds a bf16 copy of the panels. gemm then
// rounds A to bf16 too and multiplies in bf16 with fp32 accumulation
// (kernels/bf16.h), where bf16_kernels_available(); elsewhere it uses fp32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/activation.h"

namespace s3d {

class ThreadPool;

struct PackedMatrix {
  static constexpr int kPanel = 32;
  int K = 0, N = 0;
  std::shared_ptr<float> storage;  // 64-byte aligned, shared between copies
  // For N <= kDotMaxN only: B^T as N rows of kdot (K rounded up to 16) floats,
  // used by a row-dot kernel (a 32-wide panel would waste most of its lanes).
  static constexpr int kDotMaxN = 4;
  int kdot = 0;
  std::shared_ptr<float> rows;

  // Fast precision only (add_bf16_panels): the panels in bf16, K read as nseg
  // segments (one per conv tap) of seg_pairs (k, k+1) pairs, an odd segment
  // padded with a zero row. A panel's row j holds, for each of its columns n,
  // the pair (B[2j][n], B[2j+1][n]) of its segment: one 32-bit lane per column.
  std::shared_ptr<uint16_t> bf16;
  int nseg = 1, seg_pairs = 0;

  int num_panels() const { return (N + kPanel - 1) / kPanel; }
  // Row stride of panel p: 32, or N's remainder rounded up to 8 for the last.
  int panel_width(int p) const {
    int rem = N - p * kPanel;
    return rem >= kPanel ? kPanel : (rem + 7) / 8 * 8;
  }
  const float* panel(int p) const { return storage.get() + static_cast<size_t>(p) * kPanel * K; }
  const uint16_t* panel_bf16(int p) const {
    return bf16.get() + static_cast<size_t>(p) * kPanel * 2 * nseg * seg_pairs;
  }
  bool empty() const { return N == 0; }
};

// W in PyTorch Linear layout (N rows = out features, K cols = in features);
// gemm with the result computes C = A * W^T.
PackedMatrix pack_linear(const float* W, int N, int K);
// General B given as K x N row-major with row stride ldb; computes C = A * B.
PackedMatrix pack_kn(const float* B, int K, int N, int ldb);
// Adds the bf16 panels for the fast precision; K = nseg equal segments (the
// taps of a convolution). No-op for N <= kDotMaxN (those use the fp32 dot kernel).
void add_bf16_panels(PackedMatrix& m, int nseg = 1);
// Whether gemm/conv2d will take the bf16 path for m on this CPU.
bool uses_bf16(const PackedMatrix& m);

struct Epilogue {
  const float* bias = nullptr;  // N values or null
  Act act = Act::None;
  float slope = 0.2f;           // LeakyRelu negative slope
  bool accumulate = false;      // if set: C = act(C + A*B + bias)
};

// C[M x N] (row stride ldc) = act(A[M x K] (row stride lda) * B + bias).
// pool may be null (runs on the calling thread). C must not overlap A.
void gemm(ThreadPool* pool, int M, const float* A, int lda, const PackedMatrix& B, float* C,
          int ldc, const Epilogue& ep = Epilogue());
// Same on the calling thread only, for callers that parallelise outside
// (per-point MLP blocks). Allocates nothing after a thread's first bf16 call
// (its rounded copy of A lives in a per-thread buffer).
void gemm_serial(int M, const float* A, int lda, const PackedMatrix& B, float* C, int ldc,
                 const Epilogue& ep = Epilogue());

// Unpacked runtime operands (attention-sized): C = alpha * A * B, with
// B given as K x N (ldb) or, if b_transposed, as N x K (ldb). Packs B per call.
void matmul(ThreadPool* pool, int M, int N, int K, const float* A, int lda, const float* B,
            int ldb, bool b_transposed, float* C, int ldc, float alpha = 1.f);

// In-place activation of n floats with the SIMD path of kernel_isa().
void apply_activation(float* x, int64_t n, Act act, float slope = 0.2f);

}  // namespace s3d
