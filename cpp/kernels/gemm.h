// fp32 GEMM for the engine: C = act(A * B + bias), A row-major (runtime
// activations), B pre-packed once at load time (weights).
//
// B is stored as column panels of 32 (the last panel is N's remainder rounded
// up to 8, zero-padded), each panel K-major, so every micro-kernel streams one
// contiguous panel. The layout does not depend on the ISA chosen at run time.
// A is read in place (no packing); the micro-kernels keep a whole
// MR x panel tile in registers over the full K and apply bias + activation
// before the single store of C.
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

  int num_panels() const { return (N + kPanel - 1) / kPanel; }
  // Row stride of panel p: 32, or N's remainder rounded up to 8 for the last.
  int panel_width(int p) const {
    int rem = N - p * kPanel;
    return rem >= kPanel ? kPanel : (rem + 7) / 8 * 8;
  }
  const float* panel(int p) const { return storage.get() + static_cast<size_t>(p) * kPanel * K; }
  bool empty() const { return N == 0; }
};

// W in PyTorch Linear layout (N rows = out features, K cols = in features);
// gemm with the result computes C = A * W^T.
PackedMatrix pack_linear(const float* W, int N, int K);
// General B given as K x N row-major with row stride ldb; computes C = A * B.
PackedMatrix pack_kn(const float* B, int K, int N, int ldb);

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
// (per-point MLP blocks). Allocates nothing.
void gemm_serial(int M, const float* A, int lda, const PackedMatrix& B, float* C, int ldc,
                 const Epilogue& ep = Epilogue());

// Unpacked runtime operands (attention-sized): C = alpha * A * B, with
// B given as K x N (ldb) or, if b_transposed, as N x K (ldb). Packs B per call.
void matmul(ThreadPool* pool, int M, int N, int K, const float* A, int lda, const float* B,
            int ldb, bool b_transposed, float* C, int ldc, float alpha = 1.f);

// In-place activation of n floats with the SIMD path of kernel_isa().
void apply_activation(float* x, int64_t n, Act act, float slope = 0.2f);

}  // namespace s3d
