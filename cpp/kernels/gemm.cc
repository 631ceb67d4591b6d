#include "kernels/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/bf16.h"
#include "kernels/gemm_internal.h"

namespace s3d {

namespace kern {
const Kernel& kernel_for(Isa isa) {
  static const Kernel k512 = kernel_avx512();
  static const Kernel k2 = kernel_avx2();
  static const Kernel k1 = kernel_scalar();
  switch (isa) {
    case Isa::Avx512: return k512;
    case Isa::Avx2: return k2;
    default: return k1;
  }
}
}  // namespace kern

namespace {

std::shared_ptr<float> alloc_floats(size_t n) {
  size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (!p) throw Error(ErrorCode::OutOfMemory, "Failed to allocate packed weights");
  std::memset(p, 0, bytes == 0 ? 64 : bytes);
  return std::shared_ptr<float>(static_cast<float*>(p), [](float* q) { std::free(q); });
}

// get(k, n) returns B[k][n].
template <class Get>
PackedMatrix pack(int K, int N, float scale, Get get) {
  if (K < 0 || N < 0)
    throw Error(ErrorCode::InvalidArgument, "Expected non-negative matrix sizes for pack but received " +
                                                std::to_string(K) + " x " + std::to_string(N));
  PackedMatrix P;
  P.K = K;
  P.N = N;
  const int np = P.num_panels();
  // +64: masked loads never need it, but keeps every panel pointer in bounds.
  P.storage = alloc_floats(static_cast<size_t>(np) * PackedMatrix::kPanel * K + 64);
  if (N > 0 && N <= PackedMatrix::kDotMaxN) {
    P.kdot = (K + 15) / 16 * 16;
    P.rows = alloc_floats(static_cast<size_t>(N) * P.kdot);
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) P.rows.get()[static_cast<size_t>(n) * P.kdot + k] = scale * get(k, n);
  }
  for (int p = 0; p < np; ++p) {
    float* dst = P.storage.get() + static_cast<size_t>(p) * PackedMatrix::kPanel * K;
    const int w = P.panel_width(p);
    const int n0 = p * PackedMatrix::kPanel;
    const int nn = std::min(w, N - n0);
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < nn; ++j) dst[static_cast<size_t>(k) * w + j] = scale * get(k, n0 + j);
  }
  return P;
}

void check_dims(int M, const PackedMatrix& B, int lda, int ldc) {
  if (M < 0 || lda < B.K || ldc < B.N)
    throw Error(ErrorCode::InvalidArgument,
                "Expected M >= 0, lda >= K and ldc >= N for gemm but received M=" + std::to_string(M) +
                    " lda=" + std::to_string(lda) + " K=" + std::to_string(B.K) + " ldc=" +
                    std::to_string(ldc) + " N=" + std::to_string(B.N));
}

std::shared_ptr<uint16_t> alloc_bf16(size_t n) {
  size_t bytes = (n * sizeof(uint16_t) + 63) / 64 * 64 + 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw Error(ErrorCode::OutOfMemory, "Failed to allocate bf16 panels");
  std::memset(p, 0, bytes);
  return std::shared_ptr<uint16_t>(static_cast<uint16_t*>(p), [](uint16_t* q) { std::free(q); });
}

// Tiles of rows [m0, m1) x panels [p0, p1): A (fp32 or bf16) read in place with
// row stride lda; t comes with its K depth set (ks for fp32, kp pairs for bf16);
// panel(p) gives panel p's weights and tile(t) runs one tile.
template <class Elem, class Args, class Panel, class Tile>
void run_tiles(int mr, int m0, int m1, int p0, int p1, const Elem* A, int64_t lda, const PackedMatrix& B, float* C,
               int ldc, const Epilogue& ep, Args t, Panel panel, Tile tile) {
  const Elem* arow = nullptr;
  t.a = &arow;
  t.nseg = 1;
  t.lda = lda;
  t.ldc = ldc;
  t.load_c = ep.accumulate;
  t.act = ep.act;
  t.slope = ep.slope;
  for (int m = m0; m < m1; m += mr) {
    arow = A + static_cast<int64_t>(m) * lda;
    t.m = std::min(mr, m1 - m);
    for (int p = p0; p < p1; ++p) {
      const int n0 = p * PackedMatrix::kPanel;
      t.b = panel(p);
      t.ldb = B.panel_width(p);
      t.n = std::min(PackedMatrix::kPanel, B.N - n0);
      t.c = C + static_cast<int64_t>(m) * ldc + n0;
      t.bias = ep.bias ? ep.bias + n0 : nullptr;
      tile(t);
    }
  }
}

// Rows [m0, m1) x panels [p0, p1) in bf16: A16 is A rounded, lda16 = 2 * seg_pairs.
void run_block_bf16(const kern::Kernel& kr, int m0, int m1, int p0, int p1, const uint16_t* A16, int64_t lda16,
                    const PackedMatrix& B, float* C, int ldc, const Epilogue& ep) {
  kern::TileArgsBf16 t;
  t.kp = B.seg_pairs;
  run_tiles(kr.mr, m0, m1, p0, p1, A16, lda16, B, C, ldc, ep, t, [&](int p) { return B.panel_bf16(p); },
            kr.tile_bf16);
}

// Rows [m0, m1) x panels [p0, p1).
void run_block(const kern::Kernel& kr, int m0, int m1, int p0, int p1, const float* A, int lda,
               const PackedMatrix& B, float* C, int ldc, const Epilogue& ep) {
  if (kr.dot && B.rows) {
    kern::DotArgs d;
    d.m = m1 - m0;
    d.n = B.N;
    d.k = B.K;
    d.kdot = B.kdot;
    d.a = A + static_cast<int64_t>(m0) * lda;
    d.lda = lda;
    d.w = B.rows.get();
    d.c = C + static_cast<int64_t>(m0) * ldc;
    d.ldc = ldc;
    d.load_c = ep.accumulate;
    d.bias = ep.bias;
    kr.dot(d);
    if (ep.act != Act::None)
      for (int m = m0; m < m1; ++m) kr.act(C + static_cast<int64_t>(m) * ldc, B.N, ep.act, ep.slope);
    return;
  }
  kern::TileArgs t;
  t.ks = B.K;
  run_tiles(kr.mr, m0, m1, p0, p1, A, lda, B, C, ldc, ep, t, [&](int p) { return B.panel(p); }, kr.tile);
}

}  // namespace

PackedMatrix pack_linear(const float* W, int N, int K) {
  return pack(K, N, 1.f, [&](int k, int n) { return W[static_cast<int64_t>(n) * K + k]; });
}

PackedMatrix pack_kn(const float* B, int K, int N, int ldb) {
  return pack(K, N, 1.f, [&](int k, int n) { return B[static_cast<int64_t>(k) * ldb + n]; });
}

void add_bf16_panels(PackedMatrix& m, int nseg) {
  if (m.N <= PackedMatrix::kDotMaxN) return;
  if (nseg <= 0 || m.K % nseg != 0)
    throw Error(ErrorCode::InvalidArgument, "add_bf16_panels: K=" + std::to_string(m.K) +
                                                " does not split into " + std::to_string(nseg) + " segments");
  const int ks = m.K / nseg, kp = (ks + 1) / 2;
  const int np = m.num_panels();
  m.nseg = nseg;
  m.seg_pairs = kp;
  m.bf16 = alloc_bf16(static_cast<size_t>(np) * PackedMatrix::kPanel * 2 * nseg * kp);
  for (int p = 0; p < np; ++p) {
    const int w = m.panel_width(p);
    const float* src = m.panel(p);  // K rows of w
    uint16_t* dst = m.bf16.get() + static_cast<size_t>(p) * PackedMatrix::kPanel * 2 * nseg * kp;
    for (int s = 0; s < nseg; ++s)
      for (int j = 0; j < kp; ++j, dst += 2 * w)
        for (int n = 0; n < w; ++n)
          for (int h = 0; h < 2; ++h) {
            const int k = 2 * j + h;
            dst[2 * n + h] = k < ks ? bf16_from_float(src[static_cast<size_t>(s * ks + k) * w + n]) : 0;
          }
  }
}

bool uses_bf16(const PackedMatrix& m) {
  return m.bf16 && kern::kernel_for(kernel_isa()).tile_bf16 && !(kern::kernel_for(kernel_isa()).dot && m.rows);
}

void gemm_serial(int M, const float* A, int lda, const PackedMatrix& B, float* C, int ldc,
                 const Epilogue& ep) {
  check_dims(M, B, lda, ldc);
  if (M == 0 || B.N == 0) return;
  if (uses_bf16(B)) {
    const int64_t lda16 = 2 * static_cast<int64_t>(B.seg_pairs);
    uint16_t* a16 = bf16_thread_buffer(static_cast<size_t>(M) * lda16);
    convert_rows_bf16(M, B.K, A, lda, a16, lda16);
    if (B.K & 1)
      for (int r = 0; r < M; ++r) a16[r * lda16 + B.K] = 0;  // the odd K's pair partner
    run_block_bf16(kern::kernel_for(kernel_isa()), 0, M, 0, B.num_panels(), a16, lda16, B, C, ldc, ep);
    return;
  }
  run_block(kern::kernel_for(kernel_isa()), 0, M, 0, B.num_panels(), A, lda, B, C, ldc, ep);
}

void gemm(ThreadPool* pool, int M, const float* A, int lda, const PackedMatrix& B, float* C, int ldc,
          const Epilogue& ep) {
  check_dims(M, B, lda, ldc);
  if (M == 0 || B.N == 0) return;
  const kern::Kernel& kr = kern::kernel_for(kernel_isa());
  const int np = B.num_panels();
  const double flops = 2.0 * M * B.N * std::max(B.K, 1);
  const int threads = pool ? pool->size() : 1;
  // Fast precision: A rounded to bf16 once (in this thread's buffer), then the
  // same row/panel split as fp32 below.
  const bool bf16 = uses_bf16(B);
  const int64_t lda16 = 2 * static_cast<int64_t>(B.seg_pairs);
  const uint16_t* a16 = nullptr;
  if (bf16) {
    uint16_t* buf = bf16_thread_buffer(static_cast<size_t>(M) * lda16);
    auto convert = [&](int64_t r0, int64_t r1, int) {
      convert_rows_bf16(static_cast<int>(r1 - r0), B.K, A + r0 * lda, lda, buf + r0 * lda16, lda16);
      if (B.K & 1)
        for (int64_t r = r0; r < r1; ++r) buf[r * lda16 + B.K] = 0;  // the odd K's pair partner
    };
    if (threads > 1 && M >= 1024) pool->parallel_for(M, 256, convert);
    else convert(0, M, 0);
    a16 = buf;
  }
  auto block = [&](int m0, int m1, int p0, int p1) {
    if (bf16) run_block_bf16(kr, m0, m1, p0, p1, a16, lda16, B, C, ldc, ep);
    else run_block(kr, m0, m1, p0, p1, A, lda, B, C, ldc, ep);
  };
  if (threads <= 1 || flops < 2e5) {
    block(0, M, 0, np);
    return;
  }
  const int64_t mt = (M + kr.mr - 1) / kr.mr;  // row tiles
  if (mt >= 4 * threads) {
    // ~100 kFLOP minimum per chunk keeps scheduling overhead negligible.
    const double per_tile = 2.0 * kr.mr * B.N * std::max(B.K, 1);
    const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(1e5 / per_tile));
    pool->parallel_for(mt, grain, [&](int64_t b, int64_t e, int) {
      block(static_cast<int>(b * kr.mr), static_cast<int>(std::min<int64_t>(M, e * kr.mr)), 0, np);
    });
  } else {
    pool->parallel_for(mt * np, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        const int m0 = static_cast<int>((i / np) * kr.mr);
        const int p = static_cast<int>(i % np);
        block(m0, std::min(M, m0 + kr.mr), p, p + 1);
      }
    });
  }
}

void matmul(ThreadPool* pool, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
            bool b_transposed, float* C, int ldc, float alpha) {
  PackedMatrix P =
      b_transposed
          ? pack(K, N, alpha, [&](int k, int n) { return B[static_cast<int64_t>(n) * ldb + k]; })
          : pack(K, N, alpha, [&](int k, int n) { return B[static_cast<int64_t>(k) * ldb + n]; });
  gemm(pool, M, A, lda, P, C, ldc, Epilogue());
}

void apply_activation(float* x, int64_t n, Act act, float slope) {
  if (act == Act::None || n <= 0) return;
  kern::kernel_for(kernel_isa()).act(x, n, act, slope);
}

}  // namespace s3d
