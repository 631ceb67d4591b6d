// GEMM / conv2d throughput for the engine's real shapes, against OpenBLAS and
// the machine's FMA peak. OpenBLAS is linked into this benchmark only.
//
// Build (from the repo root; needs `apt-get install libopenblas-dev`):
//   g++ -std=c++17 -O3 -Wall -Wextra -Icpp bench/gemm_bench.cc cpp/kernels/*.cc cpp/core/*.cc
//     -o build/gemm_bench -lopenblas -lpthread
// Run: build/gemm_bench [--quick]
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

extern "C" void openblas_set_num_threads(int);

using namespace s3d;
using Clock = std::chrono::steady_clock;

// Single-threaded runs are timed in thread CPU time so that other processes
// sharing the 2 cores do not distort them; multi-threaded runs use wall time
// (best of several reps). Set by main per measurement.
static bool g_cpu_time = false;

static double now_seconds() {
  if (g_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  }
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

static double best_seconds(const std::function<void()>& fn, double min_total = 0.6, int min_reps = 3) {
  fn();  // warm-up
  double best = 1e30, total = 0;
  int reps = 0;
  while (reps < min_reps || total < min_total) {
    const double t0 = now_seconds();
    fn();
    double s = now_seconds() - t0;
    best = std::min(best, s);
    total += s;
    ++reps;
    if (reps >= 50) break;
  }
  return best;
}

#if defined(__x86_64__)
// Peak: 24 independent FMA chains (enough to cover latency x ports on any core).
__attribute__((target("avx512f"), noinline)) static float fma_loop512(long iters) {
  __m512 a[24];
  for (int i = 0; i < 24; ++i) a[i] = _mm512_set1_ps(0.001f * i);
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
  __m512 s = a[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, a[i]);
  float o[16];
  _mm512_storeu_ps(o, s);
  return o[0] + o[15];
}
__attribute__((target("avx2,fma"), noinline)) static float fma_loop256(long iters) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(0.001f * i);
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], b, c);
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  float o[8];
  _mm256_storeu_ps(o, s);
  return o[0] + o[7];
}
#endif

static double peak_gflops(ThreadPool* pool, bool avx512) {
#if defined(__x86_64__)
  const long iters = 20000000;
  volatile float sink = 0;
  double s = best_seconds([&] {
    pool->parallel_for(pool->size(), 1, [&](int64_t, int64_t, int) {
      sink = sink + (avx512 ? fma_loop512(iters) : fma_loop256(iters));
    });
  }, 0.2, 2);
  return (avx512 ? 24.0 * 32 : 12.0 * 16) * iters * pool->size() / s * 1e-9;
#else
  (void)pool; (void)avx512;
  return 0;
#endif
}

struct Shape {
  const char* name;
  int M, N, K;
};

int main(int argc, char** argv) {
  const bool quick = argc > 1 && !std::strcmp(argv[1], "--quick");
  const double scale = quick ? 0.125 : 1.0;
  std::printf("detected ISA: %s\n", isa_name(detected_isa()));
  ThreadPool pool1(1), pool2(2);
  g_cpu_time = false;
  std::printf("FMA peak GFLOP/s: avx512 1T %.1f, 2T %.1f | avx2 1T %.1f, 2T %.1f\n",
              peak_gflops(&pool1, true), peak_gflops(&pool2, true), peak_gflops(&pool1, false),
              peak_gflops(&pool2, false));

  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const int MP = static_cast<int>(393216 * scale);
  std::vector<Shape> shapes = {
      {"mlp 167->128", MP, 128, 167},       {"mlp 128->64", MP, 64, 128},
      {"mlp 128->33", MP, 33, 128},         {"mlp 64->128", MP, 128, 64},
      {"mlp 128->3", MP, 3, 128},           {"conv 128->128 @64^2 (gemm)", 4096, 128, 1152},
      {"conv 160->64 @256^2 (gemm)", 65536, 64, 1440}, {"conv 100->128 @128^2 (gemm)", 16384, 128, 900},
  };
  std::printf("\n| shape | M x N x K | ours avx512 1T | ours avx512 2T | ours avx2 1T | ours avx2 2T | OpenBLAS 1T | OpenBLAS 2T |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const Shape& s : shapes) {
    std::vector<float> A(static_cast<size_t>(s.M) * s.K), W(static_cast<size_t>(s.N) * s.K), bias(s.N),
        C(static_cast<size_t>(s.M) * s.N);
    for (auto& x : A) x = u(rng);
    for (auto& x : W) x = u(rng);
    for (auto& x : bias) x = u(rng);
    PackedMatrix P = pack_linear(W.data(), s.N, s.K);
    Epilogue ep;
    ep.bias = bias.data();
    ep.act = Act::Relu;
    const double gf = 2.0 * s.M * s.N * s.K * 1e-9;
    double r[6];
    int idx = 0;
    for (Isa isa : {Isa::Avx512, Isa::Avx2}) {
      set_kernel_isa_cap(isa);
      for (ThreadPool* p : {&pool1, &pool2}) {
        g_cpu_time = p == &pool1;
        r[idx++] = gf / best_seconds([&] { gemm(p, s.M, A.data(), s.K, P, C.data(), s.N, ep); });
      }
    }
    for (int t : {1, 2}) {
      openblas_set_num_threads(t);
      g_cpu_time = t == 1;
      r[idx++] = gf / best_seconds([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.M, s.N, s.K, 1.f, A.data(), s.K, W.data(), s.K,
                    0.f, C.data(), s.N);
      });
    }
    std::printf("| %s | %d x %d x %d |", s.name, s.M, s.N, s.K);
    for (double v : r) std::printf(" %.1f |", v);
    std::printf("\n");
  }
  set_kernel_isa_cap(Isa::Avx512);

  // Real convolutions (implicit GEMM incl. padding copy), GFLOP/s counted on the useful MACs.
  struct ConvShape {
    const char* name;
    int H, cin0, cin1, cout, k, stride;
  };
  std::vector<ConvShape> convs = {
      {"conv3x3 128->128 @64^2", 64, 128, 0, 128, 3, 1},
      {"conv3x3 160->64 @256^2 (128+32 concat)", 256, 128, 32, 64, 3, 1},
      {"conv3x3 100->128 @128^2 (36+64 concat)", 128, 36, 64, 128, 3, 1},
      {"conv3x3 s2 64->128 @128^2->64^2", 128, 64, 0, 128, 3, 2},
      {"conv1x1 (96+96)->96 @128^2", 128, 96, 96, 96, 1, 1},
  };
  std::printf("\n| conv | ours avx512 1T | ours avx512 2T | ours avx2 2T |\n|---|---|---|---|\n");
  for (const ConvShape& cs : convs) {
    const int cin = cs.cin0 + cs.cin1, H = cs.H, W = cs.H;
    std::vector<float> x0(static_cast<size_t>(H) * W * cs.cin0), x1(static_cast<size_t>(H) * W * std::max(cs.cin1, 1));
    std::vector<float> w(static_cast<size_t>(cs.cout) * cin * cs.k * cs.k), b(cs.cout);
    for (auto& v : x0) v = u(rng);
    for (auto& v : x1) v = u(rng);
    for (auto& v : w) v = u(rng);
    for (auto& v : b) v = u(rng);
    Conv2d c = pack_conv2d(w.data(), b.data(), cs.cout, cin, cs.k, cs.stride);
    const int Ho = (H + cs.stride - 1) / cs.stride;
    std::vector<float> out(static_cast<size_t>(Ho) * Ho * cs.cout);
    std::vector<ConvInput> in = {{x0.data(), cs.cin0}};
    if (cs.cin1) in.push_back({x1.data(), cs.cin1});
    const double gf = 2.0 * Ho * Ho * cs.cout * cin * cs.k * cs.k * 1e-9;
    double r[3];
    int idx = 0;
    for (Isa isa : {Isa::Avx512, Isa::Avx2}) {
      set_kernel_isa_cap(isa);
      for (ThreadPool* p : {&pool1, &pool2}) {
        if (isa == Isa::Avx2 && p == &pool1) continue;
        g_cpu_time = p == &pool1;
        r[idx++] = gf / best_seconds([&] { conv2d(p, in, H, W, c, out.data(), Act::LeakyRelu); });
      }
    }
    std::printf("| %s | %.1f | %.1f | %.1f |\n", cs.name, r[0], r[1], r[2]);
  }
  return 0;
}
