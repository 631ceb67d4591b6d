// Kernel correctness tests: gemm (every ISA path), conv2d, ops, sincos, positional
// encoding, bilinear map and tri-plane sampling against naive double-precision
// references; the bf16 (fast precision) gemm/conv2d against references on
// bf16-rounded operands and their scalar twin; optional PyTorch cross-check.
//
// Build and run (from the repo root):
//   mkdir -p build && g++ -std=c++17 -O3 -Wall -Wextra -Icpp tests/native/test_kernels.cc
//     cpp/kernels/*.cc cpp/core/*.cc -o build/test_kernels -lpthread && build/test_kernels
// Exit status is non-zero on any failure. S3D_CPU_FEATURES=avx2|scalar caps the ISAs tested.
// The PyTorch cross-check uses /usr/bin/python3 (torch) and writes to .cache/; it is
// skipped (with a note) when that interpreter or torch is missing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/activation.h"
#include "kernels/bf16.h"
#include "kernels/bilinear.h"
#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "kernels/gemm_internal.h"
#include "kernels/isa.h"
#include "kernels/ops.h"
#include "kernels/posenc.h"
#include "kernels/sincos.h"
#include "kernels/triplane_sample.h"

using namespace s3d;

static int g_fail = 0, g_checks = 0;
static std::mt19937 g_rng(12345);

static std::vector<float> rnd(size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(g_rng);
  return v;
}

static double act_ref(double x, Act a, double slope) {
  switch (a) {
    case Act::None: return x;
    case Act::Relu: return x > 0 ? x : 0;
    case Act::LeakyRelu: return x > 0 ? x : x * slope;
    case Act::Softplus: return x > 20 ? x : std::log1p(std::exp(x));
    case Act::Sigmoid: return 1 / (1 + std::exp(-x));
    case Act::Tanh: return std::tanh(x);
  }
  return x;
}

static const char* act_name(Act a) {
  const char* n[] = {"none", "relu", "leaky", "softplus", "sigmoid", "tanh"};
  return n[static_cast<int>(a)];
}

// |got - want| <= rtol * scale + atol, scale = magnitude of the summed terms.
static bool close(double got, double want, double scale, double rtol = 1e-5, double atol = 1e-6) {
  return std::fabs(got - want) <= rtol * (scale + std::fabs(want)) + atol && std::isfinite(got);
}

#define CHECK(cond, ...)                                 \
  do {                                                   \
    ++g_checks;                                          \
    if (!(cond)) {                                       \
      if (++g_fail <= 30) {                              \
        std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        std::fprintf(stderr, __VA_ARGS__);               \
        std::fprintf(stderr, "\n");                      \
      }                                                  \
    }                                                    \
  } while (0)

static void test_gemm(ThreadPool* pool) {
  const int Ms[] = {1, 7, 65, 393};
  const int Ns[] = {1, 3, 4, 5, 33, 64, 128};
  const int Ks[] = {0, 1, 5, 167, 256};
  const Act acts[] = {Act::None, Act::Relu, Act::LeakyRelu, Act::Softplus, Act::Sigmoid, Act::Tanh};
  int combo = 0;
  for (int M : Ms)
    for (int N : Ns)
      for (int K : Ks) {
        ++combo;
        const Act act = acts[combo % 6];
        const bool accumulate = combo % 3 == 0, use_bias = combo % 4 != 1, kn = combo % 2 == 0;
        const bool threaded = combo % 5 < 3;
        const int lda = K + (combo % 3), ldc = N + (combo % 2) * 3, ldb = N + 2;
        std::vector<float> A = rnd(static_cast<size_t>(M) * lda + 1), W = rnd(static_cast<size_t>(N) * K + 1),
                           Bkn = rnd(static_cast<size_t>(K) * ldb + 1), bias = rnd(N),
                           C0 = rnd(static_cast<size_t>(M) * ldc + 1);
        auto bval = [&](int k, int n) { return kn ? Bkn[static_cast<size_t>(k) * ldb + n] : W[static_cast<size_t>(n) * K + k]; };
        PackedMatrix P = kn ? pack_kn(Bkn.data(), K, N, ldb) : pack_linear(W.data(), N, K);
        std::vector<float> C = C0;
        Epilogue ep;
        ep.bias = use_bias ? bias.data() : nullptr;
        ep.act = act;
        ep.slope = 0.1f;
        ep.accumulate = accumulate;
        if (threaded) gemm(pool, M, A.data(), lda, P, C.data(), ldc, ep);
        else gemm_serial(M, A.data(), lda, P, C.data(), ldc, ep);
        int bad = 0;
        for (int i = 0; i < M; ++i) {
          for (int j = 0; j < ldc; ++j) {
            const size_t idx = static_cast<size_t>(i) * ldc + j;
            if (j >= N) {  // padding columns untouched
              if (C[idx] != C0[idx]) ++bad;
              continue;
            }
            double s = 0, mag = 0;
            for (int k = 0; k < K; ++k) {
              double t = static_cast<double>(A[static_cast<size_t>(i) * lda + k]) * bval(k, j);
              s += t;
              mag += std::fabs(t);
            }
            if (use_bias) s += bias[j], mag += std::fabs(bias[j]);
            if (accumulate) s += C0[idx], mag += std::fabs(C0[idx]);
            if (!close(C[idx], act_ref(s, act, 0.1), mag)) {
              if (!bad)
                std::fprintf(stderr, "  gemm[%s] M=%d N=%d K=%d act=%s acc=%d bias=%d kn=%d thr=%d: C[%d][%d]=%.8g want %.8g\n",
                             isa_name(kernel_isa()), M, N, K, act_name(act), accumulate, use_bias, kn, threaded, i, j,
                             C[idx], act_ref(s, act, 0.1));
              ++bad;
            }
          }
        }
        CHECK(bad == 0, "gemm[%s] M=%d N=%d K=%d: %d bad values", isa_name(kernel_isa()), M, N, K, bad);
        // A rows past M are never written.
        CHECK(C[static_cast<size_t>(M) * ldc] == C0[static_cast<size_t>(M) * ldc], "gemm wrote past C");
      }
}

static void test_matmul(ThreadPool* pool) {
  for (bool bt : {false, true})
    for (int M : {1, 8, 30})
      for (int N : {2, 17, 40})
        for (int K : {3, 64}) {
          const int lda = K + 1, ldb = (bt ? K : N) + 3, ldc = N + 1;
          std::vector<float> A = rnd(static_cast<size_t>(M) * lda), B = rnd(static_cast<size_t>(bt ? N : K) * ldb),
                             C(static_cast<size_t>(M) * ldc, 0.f);
          matmul(pool, M, N, K, A.data(), lda, B.data(), ldb, bt, C.data(), ldc, 0.125f);
          int bad = 0;
          for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j) {
              double s = 0, mag = 0;
              for (int k = 0; k < K; ++k) {
                double t = 0.125 * A[i * lda + k] * (bt ? B[j * ldb + k] : B[k * ldb + j]);
                s += t, mag += std::fabs(t);
              }
              if (!close(C[i * ldc + j], s, mag)) ++bad;
            }
          CHECK(bad == 0, "matmul[%s] bt=%d M=%d N=%d K=%d: %d bad", isa_name(kernel_isa()), bt, M, N, K, bad);
        }
}

struct ConvCase {
  int H, W, c0, c1, cout, k, s;
};

static std::vector<double> conv_ref(const std::vector<float>& x, int H, int W, int cin, const std::vector<float>& w,
                                    const std::vector<float>& b, int cout, int k, int s, std::vector<double>* mag) {
  const int Ho = (H + s - 1) / s, Wo = (W + s - 1) / s, p = k / 2;
  std::vector<double> out(static_cast<size_t>(Ho) * Wo * cout);
  mag->assign(out.size(), 0.0);
  for (int oy = 0; oy < Ho; ++oy)
    for (int ox = 0; ox < Wo; ++ox)
      for (int o = 0; o < cout; ++o) {
        double acc = b.empty() ? 0 : b[o], m = std::fabs(acc);
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx) {
            const int y = oy * s + ky - p, xx = ox * s + kx - p;
            if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
            for (int c = 0; c < cin; ++c) {
              double t = static_cast<double>(x[(static_cast<size_t>(y) * W + xx) * cin + c]) *
                         w[((static_cast<size_t>(o) * cin + c) * k + ky) * k + kx];
              acc += t, m += std::fabs(t);
            }
          }
        out[(static_cast<size_t>(oy) * Wo + ox) * cout + o] = acc;
        (*mag)[(static_cast<size_t>(oy) * Wo + ox) * cout + o] = m;
      }
  return out;
}

// The two parts of a virtual concat: x's first c0 channels and its last c1.
static void split_channels(const std::vector<float>& x, const ConvCase& cc, std::vector<float>* x0,
                           std::vector<float>* x1) {
  const int cin = cc.c0 + cc.c1;
  x0->assign(static_cast<size_t>(cc.H) * cc.W * cc.c0, 0.f);
  x1->assign(static_cast<size_t>(cc.H) * cc.W * std::max(cc.c1, 1), 0.f);
  for (int p = 0; p < cc.H * cc.W; ++p) {
    for (int c = 0; c < cc.c0; ++c) (*x0)[p * cc.c0 + c] = x[p * cin + c];
    for (int c = 0; c < cc.c1; ++c) (*x1)[p * cc.c1 + c] = x[p * cin + cc.c0 + c];
  }
}

static std::vector<float> round_bf16(std::vector<float> v) {
  for (float& x : v) x = float_from_bf16(bf16_from_float(x));
  return v;
}

// One conv2d case against conv_ref, with and without the pool. bf16: the weights get
// bf16 panels and the reference takes bf16-rounded operands (products stay exact).
static void check_conv(ThreadPool* pool, const ConvCase& cc, bool with_bias, bool bf16) {
  const int cin = cc.c0 + cc.c1;
  std::vector<float> x = rnd(static_cast<size_t>(cc.H) * cc.W * cin), x0, x1;
  split_channels(x, cc, &x0, &x1);
  std::vector<float> w = rnd(static_cast<size_t>(cc.cout) * cin * cc.k * cc.k), b = rnd(cc.cout);
  Conv2d conv = pack_conv2d(w.data(), with_bias ? b.data() : nullptr, cc.cout, cin, cc.k, cc.s);
  if (bf16) {
    add_bf16_panels(conv);
    CHECK(uses_bf16(conv.w), "conv2d bf16: uses_bf16 false for cout=%d", cc.cout);
  }
  std::vector<double> mag;
  std::vector<double> ref = conv_ref(bf16 ? round_bf16(x) : x, cc.H, cc.W, cin, bf16 ? round_bf16(w) : w,
                                     with_bias ? b : std::vector<float>(), cc.cout, cc.k, cc.s, &mag);
  std::vector<float> out(ref.size() + 1, 12345.f);
  std::vector<ConvInput> in = {{x0.data(), cc.c0}};
  if (cc.c1) in.push_back({x1.data(), cc.c1});
  for (ThreadPool* p : {pool, static_cast<ThreadPool*>(nullptr)}) {
    conv2d(p, in, cc.H, cc.W, conv, out.data(), Act::LeakyRelu, 0.2f);
    int bad = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      if (!close(out[i], act_ref(ref[i], Act::LeakyRelu, 0.2), mag[i])) ++bad;
    CHECK(bad == 0, "conv2d[%s%s] H=%d W=%d cin=%d+%d cout=%d k=%d s=%d pool=%d: %d bad", isa_name(kernel_isa()),
          bf16 ? "+bf16" : "", cc.H, cc.W, cc.c0, cc.c1, cc.cout, cc.k, cc.s, p != nullptr, bad);
    CHECK(out[ref.size()] == 12345.f, "conv2d wrote past its output");
  }
}

static void test_conv(ThreadPool* pool) {
  const ConvCase cases[] = {{9, 13, 5, 0, 33, 3, 1}, {9, 13, 7, 3, 17, 3, 2}, {8, 8, 4, 0, 64, 3, 2},
                            {17, 30, 16, 16, 40, 3, 1}, {9, 13, 5, 6, 33, 1, 1}, {9, 13, 5, 0, 7, 1, 2},
                            {10, 7, 3, 0, 5, 1, 1},    {1, 1, 3, 2, 4, 3, 1},   {2, 3, 1, 0, 3, 3, 2},
                            {16, 40, 32, 0, 32, 3, 1}};
  int ci = 0;
  for (const ConvCase& cc : cases) check_conv(pool, cc, ci++ % 2 == 0, false);
}

// The fast precision's kernels (kernels/bf16.h): rounding, conversion, the
// bf16 tile against its scalar twin, and gemm/conv2d with bf16 panels against
// double references on bf16-rounded operands (products are exact, so only the
// fp32 summation differs: the fp32 tolerance applies). Unrounded references
// would differ by ~2^-9 and fail that tolerance.
static void test_bf16(ThreadPool* pool) {
  // Round to nearest even on the 16 dropped bits.
  struct Case { uint32_t in; uint16_t want; };
  const Case rounding[] = {{0x3f800000u, 0x3f80}, {0x3f808000u, 0x3f80}, {0x3f818000u, 0x3f82},
                        {0x3f808001u, 0x3f81}, {0xbf80ffffu, 0xbf81}, {0x00400000u, 0x0000},
                        {0x80400000u, 0x8000}, {0x7f7fffffu, 0x7f80}, {0x7fc00000u, 0x7fc0}};
  for (const Case& c : rounding) {
    float f;
    std::memcpy(&f, &c.in, 4);
    CHECK(bf16_from_float(f) == c.want, "bf16_from_float(0x%08x) = 0x%04x, want 0x%04x", c.in, bf16_from_float(f), c.want);
  }
  if (!bf16_kernels_available()) {
    std::printf("[bf16] gemm/conv2d skipped: %s\n", kernel_isa() != Isa::Avx512 ? "the avx512 kernels are not in use"
                                                                                  : "the CPU has no AVX512-BF16");
    return;
  }
  // Vector conversion == scalar rounding, nothing past k written.
  for (int k : {1, 2, 15, 16, 17, 31, 32, 33, 103, 128}) {
    const int ldo = k + 5;
    std::vector<float> a = rnd(static_cast<size_t>(3) * k, -40.f, 40.f);
    std::vector<uint16_t> out(static_cast<size_t>(3) * ldo, 0xabcd);
    convert_rows_bf16(3, k, a.data(), k, out.data(), ldo);
    int bad = 0;
    for (int r = 0; r < 3; ++r)
      for (int j = 0; j < ldo; ++j) {
        const uint16_t want = j < k ? bf16_from_float(a[r * k + j]) : 0xabcd;
        if (out[static_cast<size_t>(r) * ldo + j] != want) ++bad;
      }
    CHECK(bad == 0, "convert_rows_bf16 k=%d: %d values differ from bf16_from_float or written past k", k, bad);
  }
  // The avx512 bf16 tile against its scalar twin (same sums, same order).
  {
    const kern::Kernel& kr = kern::kernel_for(Isa::Avx512);
    for (int n : {32, 24, 16, 9}) {
      const int kp = 37, lda = 2 * kp + 4, ldb = n > 16 ? 32 : 16, ldc = 40;
      std::vector<uint16_t> a(static_cast<size_t>(14) * lda), b(static_cast<size_t>(kp) * 2 * ldb);
      for (auto& x : a) x = bf16_from_float(rnd(1)[0]);
      for (auto& x : b) x = bf16_from_float(rnd(1)[0]);
      std::vector<float> bias = rnd(32), c0 = rnd(static_cast<size_t>(14) * ldc);
      std::vector<float> got = c0, want = c0;
      const uint16_t* seg = a.data();
      kern::TileArgsBf16 t;
      t.a = &seg;
      t.kp = kp;
      t.lda = lda;
      t.b = b.data();
      t.ldb = ldb;
      t.ldc = ldc;
      t.m = 14;
      t.n = n;
      t.load_c = true;
      t.bias = bias.data();
      t.act = Act::LeakyRelu;
      t.c = got.data();
      kr.tile_bf16(t);
      t.c = want.data();
      kern::tile_bf16_reference(t);
      int bad = 0;
      for (size_t i = 0; i < got.size(); ++i)
        if (std::fabs(got[i] - want[i]) > 1e-6f * (1.f + std::fabs(want[i]))) {
          if (!bad) std::fprintf(stderr, "  bf16 tile n=%d: [%zu] %.9g want %.9g\n", n, i, got[i], want[i]);
          ++bad;
        }
      CHECK(bad == 0, "bf16 tile vs tile_bf16_reference n=%d: %d values differ", n, bad);
    }
  }
  // gemm / gemm_serial with bf16 panels (MLP shapes, odd K, the N <= 4 dot path stays fp32).
  double worst_fast_vs_exact = 0;
  for (int M : {1, 13, 65, 300})
    for (int N : {3, 32, 33, 64, 128})
      for (int K : {1, 7, 64, 103}) {
        const bool threaded = (M + N + K) % 2 == 0;
        const int lda = K + 3, ldc = N + 1;
        std::vector<float> A = rnd(static_cast<size_t>(M) * lda), W = rnd(static_cast<size_t>(N) * K), bias = rnd(N);
        PackedMatrix P = pack_linear(W.data(), N, K);
        add_bf16_panels(P);
        CHECK(uses_bf16(P) == (N > PackedMatrix::kDotMaxN), "uses_bf16 N=%d", N);
        const std::vector<float> Ar = N > PackedMatrix::kDotMaxN ? round_bf16(A) : A;
        const std::vector<float> Wr = N > PackedMatrix::kDotMaxN ? round_bf16(W) : W;
        std::vector<float> C(static_cast<size_t>(M) * ldc, 7.f);
        Epilogue ep;
        ep.bias = bias.data();
        ep.act = Act::Relu;
        if (threaded) gemm(pool, M, A.data(), lda, P, C.data(), ldc, ep);
        else gemm_serial(M, A.data(), lda, P, C.data(), ldc, ep);
        int bad = 0;
        double num = 0, den = 0;
        for (int i = 0; i < M; ++i)
          for (int j = 0; j < N; ++j) {
            double s = bias[j], mag = std::fabs(bias[j]), exact = bias[j];
            for (int k = 0; k < K; ++k) {
              const double t = static_cast<double>(Ar[static_cast<size_t>(i) * lda + k]) * Wr[static_cast<size_t>(j) * K + k];
              s += t, mag += std::fabs(t);
              exact += static_cast<double>(A[static_cast<size_t>(i) * lda + k]) * W[static_cast<size_t>(j) * K + k];
            }
            const float got = C[static_cast<size_t>(i) * ldc + j];
            if (!close(got, act_ref(s, Act::Relu, 0), mag)) ++bad;
            num += (got - act_ref(exact, Act::Relu, 0)) * (got - act_ref(exact, Act::Relu, 0));
            den += act_ref(exact, Act::Relu, 0) * act_ref(exact, Act::Relu, 0);
          }
        for (int i = 0; i < M; ++i) if (C[static_cast<size_t>(i) * ldc + N] != 7.f) ++bad;
        CHECK(bad == 0, "gemm bf16 M=%d N=%d K=%d thr=%d: %d bad values", M, N, K, threaded, bad);
        if (den > 0) worst_fast_vs_exact = std::max(worst_fast_vs_exact, std::sqrt(num / den));
      }
  // bf16 against the fp32 answer: the operands' rounding only (observed ~2e-3).
  CHECK(worst_fast_vs_exact < 2e-2, "gemm bf16 vs fp32: relative error %g", worst_fast_vs_exact);
  std::printf("[bf16] gemm relative error vs fp32 (worst case): %.2e\n", worst_fast_vs_exact);
  // conv2d with bf16 panels: odd channel parts (pad overwritten by the next part), strides, 1x1.
  const ConvCase conv_cases[] = {{9, 13, 5, 6, 33, 3, 1}, {9, 13, 7, 3, 17, 3, 2}, {17, 30, 16, 16, 40, 3, 1},
                                 {9, 13, 5, 6, 33, 1, 1}, {2, 3, 1, 0, 5, 3, 2},   {16, 40, 36, 64, 64, 3, 1}};
  for (const ConvCase& cc : conv_cases) check_conv(pool, cc, true, true);
}

static double bilinear_ref(const std::vector<float>& in, int H, int W, int C, int Ho, int Wo, int y, int x, int c) {
  auto src = [](int o, int insz, int outsz, int* i0, int* i1) {
    double s = std::max(0.0, (o + 0.5) * insz / outsz - 0.5);
    *i0 = std::min(static_cast<int>(std::floor(s)), insz - 1);
    *i1 = std::min(*i0 + 1, insz - 1);
    return s - *i0;
  };
  int y0, y1, x0, x1;
  double ly = src(y, H, Ho, &y0, &y1), lx = src(x, W, Wo, &x0, &x1);
  auto at = [&](int yy, int xx) { return static_cast<double>(in[(static_cast<size_t>(yy) * W + xx) * C + c]); };
  return (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
}

static void test_ops(ThreadPool* pool) {
  {  // resize / upsample
    const int H = 5, W = 7, C = 19;
    std::vector<float> in = rnd(H * W * C);
    std::vector<float> up(4 * H * W * C);
    upsample_bilinear2x(pool, in.data(), H, W, C, up.data());
    int bad = 0;
    for (int y = 0; y < 2 * H; ++y)
      for (int x = 0; x < 2 * W; ++x)
        for (int c = 0; c < C; ++c)
          if (!close(up[(static_cast<size_t>(y) * 2 * W + x) * C + c], bilinear_ref(in, H, W, C, 2 * H, 2 * W, y, x, c), 1.0))
            ++bad;
    CHECK(bad == 0, "upsample_bilinear2x: %d bad", bad);
    // A window of the output (touching the top edge, inside on the other sides) is the
    // full call's values, bit for bit, stored densely.
    {
      const int wx0 = 3, wy0 = 0, wx1 = 11, wy1 = 7, ww = wx1 - wx0;
      std::vector<float> win(static_cast<size_t>(wy1 - wy0) * ww * C);
      upsample_bilinear2x_window(pool, in.data(), H, W, C, wx0, wy0, wx1, wy1, win.data());
      bad = 0;
      for (int y = wy0; y < wy1; ++y)
        for (int x = wx0; x < wx1; ++x)
          for (int c = 0; c < C; ++c)
            if (win[(static_cast<size_t>(y - wy0) * ww + (x - wx0)) * C + c] !=
                up[(static_cast<size_t>(y) * 2 * W + x) * C + c])
              ++bad;
      CHECK(bad == 0, "upsample_bilinear2x_window: %d values differ from the full call", bad);
    }
    const int Ho = 3, Wo = 11;
    std::vector<float> rs(Ho * Wo * C);
    resize_bilinear(nullptr, in.data(), H, W, C, rs.data(), Ho, Wo);
    bad = 0;
    for (int y = 0; y < Ho; ++y)
      for (int x = 0; x < Wo; ++x)
        for (int c = 0; c < C; ++c)
          if (!close(rs[(static_cast<size_t>(y) * Wo + x) * C + c], bilinear_ref(in, H, W, C, Ho, Wo, y, x, c), 1.0)) ++bad;
    CHECK(bad == 0, "resize_bilinear: %d bad", bad);
  }
  {  // avg_pool
    const int H = 17, W = 9, C = 6, k = 4;
    std::vector<float> in = rnd(H * W * C), out((H / k) * (W / k) * C);
    avg_pool(pool, in.data(), H, W, C, k, out.data());
    int bad = 0;
    for (int y = 0; y < H / k; ++y)
      for (int x = 0; x < W / k; ++x)
        for (int c = 0; c < C; ++c) {
          double s = 0;
          for (int dy = 0; dy < k; ++dy)
            for (int dx = 0; dx < k; ++dx) s += in[((y * k + dy) * W + x * k + dx) * C + c];
          if (!close(out[(y * (W / k) + x) * C + c], s / (k * k), 1.0)) ++bad;
        }
    CHECK(bad == 0, "avg_pool: %d bad", bad);
  }
  {  // layer norm + softmax
    const int rows = 37, dim = 384;
    std::vector<float> x = rnd(rows * dim, -3.f, 5.f), g = rnd(dim), b = rnd(dim), y = x;
    layer_norm_rows(pool, y.data(), rows, dim, g.data(), b.data(), 1e-5f);
    int bad = 0;
    for (int r = 0; r < rows; ++r) {
      double m = 0, v = 0;
      for (int i = 0; i < dim; ++i) m += x[r * dim + i];
      m /= dim;
      for (int i = 0; i < dim; ++i) v += (x[r * dim + i] - m) * (x[r * dim + i] - m);
      v /= dim;
      for (int i = 0; i < dim; ++i) {
        double want = (x[r * dim + i] - m) / std::sqrt(v + 1e-5) * g[i] + b[i];
        if (!close(y[r * dim + i], want, 4.0)) ++bad;
      }
    }
    CHECK(bad == 0, "layer_norm_rows: %d bad", bad);
    y = x;
    softmax_rows(pool, y.data(), rows, dim);
    bad = 0;
    for (int r = 0; r < rows; ++r) {
      double mx = -1e30, s = 0;
      for (int i = 0; i < dim; ++i) mx = std::max(mx, static_cast<double>(x[r * dim + i]));
      for (int i = 0; i < dim; ++i) s += std::exp(x[r * dim + i] - mx);
      for (int i = 0; i < dim; ++i) {
        double want = std::exp(x[r * dim + i] - mx) / s;
        if (!close(y[r * dim + i], want, 0.0, 1e-5, 1e-9)) ++bad;
      }
    }
    CHECK(bad == 0, "softmax_rows: %d bad", bad);
  }
  {  // activations, incl. extreme values and thresholds
    std::vector<float> x = rnd(100003, -30.f, 30.f);
    const float special[] = {0.f, -0.f, 1e-8f, -1e-8f, 1e-4f, -3e-3f, 0.624f, 0.626f, -0.626f, 19.99f, 20.f,
                             20.01f, -20.f, -87.f, -88.5f, -100.f, -1000.f, 88.f, 89.f, 100.f, 1000.f, 1e-38f};
    for (size_t i = 0; i < sizeof(special) / sizeof(float); ++i) x[i] = special[i];
    for (Act a : {Act::Relu, Act::LeakyRelu, Act::Softplus, Act::Sigmoid, Act::Tanh}) {
      std::vector<float> y = x;
      activation_inplace(pool, y.data(), static_cast<int64_t>(y.size()), a, 0.3f);
      int bad = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        double want = act_ref(x[i], a, 0.3);
        // 2e-6 relative; 1e-37 absolute covers exp() clamped at the float underflow edge.
        if (!(std::fabs(y[i] - want) <= 2e-6 * std::fabs(want) + 1e-37)) {
          if (!bad) std::fprintf(stderr, "  act %s(%.9g) = %.9g want %.9g\n", act_name(a), x[i], y[i], want);
          ++bad;
        }
      }
      CHECK(bad == 0, "activation %s [%s]: %d bad", act_name(a), isa_name(kernel_isa()), bad);
    }
  }
}

// ||got - want|| / ||want|| over n values.
static double rel_err(const float* got, const double* want, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = got[i] - want[i];
    num += d * d;
    den += want[i] * want[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);  // NaN stays NaN and fails `<=`
}

// grid_sample(bilinear, align_corners=False, zeros) of channel c of a (h, w, C) map, in double.
static double grid_ref(const float* map, int h, int w, int C, float gx, float gy, int c) {
  const double ix = ((gx + 1.0) * w - 1.0) * 0.5, iy = ((gy + 1.0) * h - 1.0) * 0.5;
  const double fx = std::floor(ix), fy = std::floor(iy);
  double v = 0;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const double x = fx + dx, y = fy + dy;
      if (x < 0 || x >= w || y < 0 || y >= h) continue;
      const double wgt = (dx ? ix - fx : 1 - (ix - fx)) * (dy ? iy - fy : 1 - (iy - fy));
      v += wgt * map[(static_cast<int64_t>(y) * w + static_cast<int64_t>(x)) * C + c];
    }
  return v;
}

// The NeRF point kernels (kernels/sincos, posenc, bilinear, triplane_sample) on the
// current ISA. Inputs come from a fixed seed, so every ISA sees the same ones; the
// tolerances are about 10x the worst error observed on any ISA.
static void test_point_kernels() {
  std::mt19937 rng(2024);
  auto uni = [&](size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
  };
  const char* isa = isa_name(kernel_isa());
  {  // sincos_n against libm in double, over the angles gamma(x) sees (|x| 1.5, 2^5 pi) and
     // beyond; n is no multiple of 8 or 16, so the SIMD tails run too.
    std::vector<float> a = uni(100003, -160.f, 160.f);
    const float special[] = {0.f, -0.f, 1e-30f, static_cast<float>(M_PI / 2), static_cast<float>(M_PI),
                             static_cast<float>(-M_PI), 1e3f, -1e4f};
    for (size_t i = 0; i < sizeof(special) / sizeof(float); ++i) a[i] = special[i];
    const size_t n = a.size();
    std::vector<float> s(n), c(n);
    std::vector<double> rs(n), rc(n);
    sincos_n(static_cast<int64_t>(n), a.data(), s.data(), c.data());
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
      rs[i] = std::sin(static_cast<double>(a[i]));
      rc[i] = std::cos(static_cast<double>(a[i]));
      worst = std::max({worst, std::fabs(s[i] - rs[i]), std::fabs(c[i] - rc[i])});
    }
    const double es = rel_err(s.data(), rs.data(), n), ec = rel_err(c.data(), rc.data(), n);
    std::printf("  [%s] sincos_n: rel err sin %.3g cos %.3g, max abs %.3g\n", isa, es, ec, worst);
    CHECK(es <= 3e-7 && ec <= 3e-7 && worst <= 1e-6, "sincos_n [%s]: rel err %g / %g, max abs %g", isa, es, ec, worst);
  }
  {  // positional_encoding: layout [x, sin, cos per frequency], torch's float angle, padding untouched
    const int n = 257, freqs = 6, xs_stride = 4, width = 3 + 6 * freqs, ldo = width + 5;
    std::vector<float> xs = uni(static_cast<size_t>(n) * xs_stride, -1.5f, 1.5f);
    std::vector<float> out(static_cast<size_t>(n) * ldo, 42.f), tmp(pe_scratch_floats(n, freqs)), got;
    std::vector<double> want;
    positional_encoding(n, xs.data(), xs_stride, freqs, out.data(), ldo, tmp.data());
    int pad_bad = 0;
    for (int i = 0; i < n; ++i) {
      const float* x = xs.data() + static_cast<size_t>(i) * xs_stride;
      const float* o = out.data() + static_cast<size_t>(i) * ldo;
      for (int j = 0; j < 3; ++j) want.push_back(x[j]);
      for (int k = 0; k < freqs; ++k) {
        const float mult = static_cast<float>(M_PI * std::ldexp(1.0, k));
        for (int j = 0; j < 3; ++j) want.push_back(std::sin(static_cast<double>(x[j] * mult)));
        for (int j = 0; j < 3; ++j) want.push_back(std::cos(static_cast<double>(x[j] * mult)));
      }
      got.insert(got.end(), o, o + width);
      for (int j = width; j < ldo; ++j) pad_bad += o[j] != 42.f;
    }
    const double e = rel_err(got.data(), want.data(), got.size());
    std::printf("  [%s] positional_encoding (L=%d): rel err %.3g\n", isa, freqs, e);
    CHECK(e <= 3e-7 && pad_bad == 0, "positional_encoding [%s]: rel err %g, %d padding values written", isa, e, pad_bad);
  }
  // sample_map_hwc: C = 4 and 12 take the scalar path, 8 and 24 AVX2, 16 and 32 AVX-512 where
  // available. Points reach past [-1, 1] (zero padding); the map is not square.
  for (int C : {4, 8, 12, 16, 24, 32}) {
    const int h = 9, w = 13, n = 500;
    std::vector<float> map = uni(static_cast<size_t>(h) * w * C, -1.f, 1.f), zeros(C + 16, 0.f), g = uni(2 * n, -1.15f, 1.15f);
    std::vector<float> got(static_cast<size_t>(n) * C);
    std::vector<double> want(got.size());
    for (int i = 0; i < n; ++i) {
      sample_map_hwc(map.data(), h, w, C, g[2 * i], g[2 * i + 1], zeros.data(), got.data() + static_cast<size_t>(i) * C);
      for (int c = 0; c < C; ++c) want[static_cast<size_t>(i) * C + c] = grid_ref(map.data(), h, w, C, g[2 * i], g[2 * i + 1], c);
    }
    const double e = rel_err(got.data(), want.data(), got.size());
    std::printf("  [%s] sample_map_hwc C=%d: rel err %.3g\n", isa, C, e);
    CHECK(e <= 5e-6, "sample_map_hwc C=%d [%s]: rel err %g", C, isa, e);
  }
  // triplane_sample: 4 levels (3 planes, h, w + 1, C), the shipped plane_scale (y flipped),
  // points partly outside the box; per level the mean of the XY, XZ and YZ samples.
  for (int C : {4, 8, 16, 32}) {
    const float scale[3] = {3.1586f, -3.1586f, 3.1586f};
    std::vector<float> lv[4], zeros(C + 16, 0.f);
    TriplaneView v;
    for (int l = 0, size = 16; l < 4; ++l, size /= 2) {
      lv[l] = uni(static_cast<size_t>(3) * size * (size + 1) * C, -1.f, 1.f);
      v.level[l] = lv[l].data();
      v.h[l] = size;
      v.w[l] = size + 1;
    }
    v.C = C;
    for (int k = 0; k < 3; ++k) v.scale[k] = scale[k];
    v.zeros = zeros.data();
    const int n = 263, ps = 3, ldo = 4 * C + 1;
    std::vector<float> pts = uni(static_cast<size_t>(n) * ps, -0.4f, 0.4f), out(static_cast<size_t>(n) * ldo, 42.f), got;
    std::vector<double> want;
    triplane_sample(v, n, pts.data(), ps, out.data(), ldo);
    int pad_bad = 0;
    for (int i = 0; i < n; ++i) {
      const float* p = pts.data() + static_cast<size_t>(i) * ps;
      const float q[3] = {scale[0] * p[0], scale[1] * p[1], scale[2] * p[2]};
      const int ax[3] = {0, 0, 1}, ay[3] = {1, 2, 2};  // XY, XZ, YZ
      for (int l = 0; l < 4; ++l) {
        const int64_t plane = static_cast<int64_t>(v.h[l]) * v.w[l] * C;
        for (int c = 0; c < C; ++c) {
          double acc = 0;
          for (int k = 0; k < 3; ++k) acc += grid_ref(v.level[l] + k * plane, v.h[l], v.w[l], C, q[ax[k]], q[ay[k]], c);
          want.push_back(acc / 3);
        }
      }
      const float* o = out.data() + static_cast<size_t>(i) * ldo;
      got.insert(got.end(), o, o + 4 * C);
      pad_bad += o[4 * C] != 42.f;
    }
    const double e = rel_err(got.data(), want.data(), got.size());
    std::printf("  [%s] triplane_sample C=%d: rel err %.3g\n", isa, C, e);
    CHECK(e <= 5e-6 && pad_bad == 0, "triplane_sample C=%d [%s]: rel err %g, %d padding values written", C, isa, e, pad_bad);
  }
}

// Cross-check conv2d and upsample against PyTorch itself (skipped if unavailable).
static void test_torch(ThreadPool* pool) {
  if (std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") != 0) {
    std::printf("  (skipped PyTorch cross-check: /usr/bin/python3 with torch not found)\n");
    return;
  }
  std::system("mkdir -p .cache");
  const int H = 11, W = 14, cin = 6, cout = 10;
  std::vector<float> x = rnd(H * W * cin), w3 = rnd(cout * cin * 9), b = rnd(cout);
  auto save = [](const char* path, const std::vector<float>& v) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  };
  save(".cache/tk_x.bin", x);
  save(".cache/tk_w.bin", w3);
  save(".cache/tk_b.bin", b);
  std::ofstream py(".cache/tk.py");
  py << "import numpy as np, torch, torch.nn.functional as F\n"
     << "H,W,ci,co=" << H << "," << W << "," << cin << "," << cout << "\n"
     << "x=torch.from_numpy(np.fromfile('.cache/tk_x.bin',dtype=np.float32).reshape(1,H,W,ci)).permute(0,3,1,2)\n"
     << "w=torch.from_numpy(np.fromfile('.cache/tk_w.bin',dtype=np.float32).reshape(co,ci,3,3))\n"
     << "b=torch.from_numpy(np.fromfile('.cache/tk_b.bin',dtype=np.float32))\n"
     << "for s in (1,2):\n"
     << "  y=F.leaky_relu(F.conv2d(x,w,b,stride=s,padding=1),0.2)\n"
     << "  y.permute(0,2,3,1).contiguous().numpy().tofile('.cache/tk_conv%d.bin'%s)\n"
     << "u=F.interpolate(x,scale_factor=2,mode='bilinear',align_corners=False)\n"
     << "u.permute(0,2,3,1).contiguous().numpy().tofile('.cache/tk_up.bin')\n"
     << "r=F.interpolate(x,size=(5,23),mode='bilinear',align_corners=False)\n"
     << "r.permute(0,2,3,1).contiguous().numpy().tofile('.cache/tk_rs.bin')\n"
     << "F.softplus(x).permute(0,2,3,1).contiguous().numpy().tofile('.cache/tk_sp.bin')\n";
  py.close();
  if (std::system("/usr/bin/python3 .cache/tk.py") != 0) {
    CHECK(false, "PyTorch reference script failed");
    return;
  }
  auto load = [](const char* path, size_t n) {
    std::vector<float> v(n);
    std::ifstream f(path, std::ios::binary);
    f.read(reinterpret_cast<char*>(v.data()), n * sizeof(float));
    return v;
  };
  auto maxdiff = [](const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
    return m;
  };
  Conv2d c1 = pack_conv2d(w3.data(), b.data(), cout, cin, 3, 1), c2 = pack_conv2d(w3.data(), b.data(), cout, cin, 3, 2);
  std::vector<float> o1(H * W * cout), o2(((H + 1) / 2) * ((W + 1) / 2) * cout);
  conv2d(pool, {{x.data(), cin}}, H, W, c1, o1.data(), Act::LeakyRelu);
  conv2d(pool, {{x.data(), cin}}, H, W, c2, o2.data(), Act::LeakyRelu);
  double d1 = maxdiff(o1, load(".cache/tk_conv1.bin", o1.size())), d2 = maxdiff(o2, load(".cache/tk_conv2.bin", o2.size()));
  CHECK(d1 < 2e-5 && d2 < 2e-5, "conv2d vs torch: max diff %g / %g", d1, d2);
  std::vector<float> up(4 * H * W * cin), rs(5 * 23 * cin), sp = x;
  upsample_bilinear2x(pool, x.data(), H, W, cin, up.data());
  resize_bilinear(pool, x.data(), H, W, cin, rs.data(), 5, 23);
  activation_inplace(pool, sp.data(), static_cast<int64_t>(sp.size()), Act::Softplus);
  double du = maxdiff(up, load(".cache/tk_up.bin", up.size())), dr = maxdiff(rs, load(".cache/tk_rs.bin", rs.size()));
  double ds = maxdiff(sp, load(".cache/tk_sp.bin", sp.size()));
  CHECK(du < 2e-6 && dr < 2e-6 && ds < 2e-6, "ops vs torch: upsample %g resize %g softplus %g", du, dr, ds);
  std::printf("  PyTorch cross-check: conv s1 %.2g, s2 %.2g, upsample %.2g, resize %.2g, softplus %.2g (max abs diff)\n",
              d1, d2, du, dr, ds);
}

int main() {
  // The env cap (S3D_CPU_FEATURES) must be honoured before any override.
  const Isa start = kernel_isa();
  std::printf("detected %s, S3D_CPU_FEATURES=%s -> %s\n", isa_name(detected_isa()),
              std::getenv("S3D_CPU_FEATURES") ? std::getenv("S3D_CPU_FEATURES") : "(unset)", isa_name(start));
  ThreadPool pool(2);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(start)) {
      std::printf("[%s] skipped (not available or capped)\n", isa_name(isa));
      continue;
    }
    set_kernel_isa_cap(isa);
    CHECK(kernel_isa() == isa, "set_kernel_isa_cap(%s) gave %s", isa_name(isa), isa_name(kernel_isa()));
    const int before = g_fail;
    test_gemm(&pool);
    test_matmul(&pool);
    test_conv(&pool);
    test_ops(&pool);
    test_point_kernels();
    std::printf("[%s] gemm/matmul/conv2d/ops/point kernels: %s\n", isa_name(isa), g_fail == before ? "ok" : "FAILED");
  }
  set_kernel_isa_cap(start);
  test_bf16(&pool);
  test_torch(&pool);
  std::printf("%d checks, %d failures\n", g_checks, g_fail);
  if (g_fail) {
    std::fprintf(stderr, "TEST FAILED\n");
    return 1;
  }
  std::printf("ALL PASSED\n");
  return 0;
}
