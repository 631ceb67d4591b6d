// The fused per-ray NeRF kernel (CPU twin: cpp/model/nerf_renderer.cc; see
// nerf_renderer.cuh for the API).
//
// Work decomposition: one block of kThreads = 128 threads (4 warps) renders
// RB rays end to end. Points are processed in tiles of kTile = 32 (one point
// per lane); an MLP layer gives each warp groups of 4 output neurons, so a
// lane does 1 point x 4 outputs per k step (one shared-memory load, four
// FMAs, weights as warp-uniform read-only loads served by L1). Everything
// per point lives in shared memory:
//   ray area   per ray: dir, depths (coarse | fine), coarse weights, cdf,
//              merged depths, merge order, sort scratch
//   res rows   per ray x sample: decoder row [feat (F) | sigma_raw]
//   pts/pts2   tile points before / after deformation
//   A          deform input [gamma(x) | F_cm], then e3 output, then dx, then fc2 output
//   X3         [d2 | e1] (2 h0), then tri-plane features (4C)
//   X2         [d1 | e2] (2 h1), then decoder hidden
//   Ah/Cf      tensor-core staging: fp16 copy of a layer input, fp32 accumulators
// Leading dimensions are odd (in floats) so that 32 lanes reading row p,
// column k hit 32 different banks.
// Compositing/importance/merge: one warp per ray, lanes over channels (F) or
// over importance samples; the transmittance product and the cdf accumulate
// in double as the CPU (torch's CPU cumprod/cumsum) does.
#include "nerf_renderer.cuh"

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>
#include <string>
#include <vector>

namespace s3d {
namespace cuda {

namespace {

thread_local std::string g_last_error;

cudaError_t record(cudaError_t e, const char* call, const char* file, int line) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s (%s:%d): %s: %s", call, file, line, cudaGetErrorName(e), cudaGetErrorString(e));
  g_last_error = buf;
  return e;
}

cudaError_t fail(cudaError_t e, const std::string& msg) {
  g_last_error = msg;
  return e;
}

}  // namespace

// Every CUDA call goes through this: on failure the call text, file and line
// land in nerf_cuda_last_error() and the error is returned.
#define S3D_CUDA_TRY(call)                                          \
  do {                                                              \
    const cudaError_t s3d_e_ = (call);                              \
    if (s3d_e_ != cudaSuccess) return record(s3d_e_, #call, __FILE__, __LINE__); \
  } while (0)

const char* nerf_cuda_last_error() { return g_last_error.c_str(); }

namespace {

constexpr int kThreads = 128;
constexpr int kTile = 32;      // points per tile = lanes per warp
constexpr int kMaxFLane = 4;   // F <= 128: channels per lane in the compositor
enum Act { kNone = 0, kRelu = 1, kSoftplus = 2 };

inline int odd(int k) { return k | 1; }
inline int up8(int k) { return (k + 7) / 8 * 8; }
inline int up16(int k) { return (k + 15) / 16 * 16; }

// Shared-memory layout (offsets in floats) and the per-launch constants.
struct Layout {
  int res, Nc, Ni, S, F, C, cm, gh, gw, freqs, pe, in_dim, din, h0, h1, h2, hd, n_rays, RB;
  float near_, far_, focal;
  float qs[3];  // plane_scale
  float m[12];  // rows 0..2 of the ray transform
  int ray_stride, r_dep, r_w, r_cdf, r_merged, r_order, r_bs;
  int o_ray, o_res, ldr, o_pts, o_pts2, o_a, o_x3, o_x2, o_ah, o_cf, ldcf, total;
  int ld_in, ld_c, ld_dx, ld_o, ld_x3, ld_f, ld_x2, ld_hd;
  int lh[4], lw[4];
};

Layout make_layout(const CudaNerfDims& d, int RB, bool tc, int kp_max, int np_max) {
  Layout L{};
  L.res = d.render_size; L.Nc = d.n_coarse; L.Ni = d.n_importance; L.S = L.Nc + L.Ni;
  L.F = d.feat_channels; L.C = d.plane_channels; L.cm = d.cm_channels; L.freqs = d.pe_freqs;
  L.pe = d.pe_dim(); L.in_dim = L.pe + L.cm; L.din = d.deform_in();
  L.h0 = d.h0; L.h1 = d.h1; L.h2 = d.h2; L.hd = d.decoder_hidden;
  L.n_rays = L.res * L.res; L.RB = RB;
  L.near_ = d.ray_near; L.far_ = d.ray_far; L.focal = d.focal;
  for (int k = 0; k < 3; ++k) L.qs[k] = d.plane_scale[k];
  // ray area
  L.r_dep = 4;
  L.r_w = L.r_dep + L.S;
  L.r_cdf = L.r_w + L.Nc;
  L.r_merged = L.r_cdf + L.Nc;
  L.r_order = L.r_merged + L.S;
  L.r_bs = L.r_order + L.S;
  L.ray_stride = up8(L.r_bs + L.Ni);
  L.ldr = L.F + 1;
  L.ld_in = odd(L.in_dim); L.ld_c = odd(L.h2); L.ld_dx = 3; L.ld_o = odd(L.F + 1);
  L.ld_x3 = odd(2 * L.h0); L.ld_f = odd(4 * L.C);
  L.ld_x2 = odd(2 * L.h1); L.ld_hd = odd(L.hd);
  const int a_w = std::max(std::max(L.ld_in, L.ld_c), std::max(L.ld_dx, L.ld_o));
  const int x3_w = std::max(L.ld_x3, L.ld_f), x2_w = std::max(L.ld_x2, L.ld_hd);
  int o = 0;
  L.o_ray = o; o += up8(RB * L.ray_stride);
  L.o_res = o; o += up8(RB * L.S * L.ldr);
  L.o_pts = o; o += up8(kTile * 3);
  L.o_pts2 = o; o += up8(kTile * 3);
  L.o_a = o; o += up8(kTile * a_w);
  L.o_x3 = o; o += up8(kTile * x3_w);
  L.o_x2 = o; o += up8(kTile * x2_w);
  L.ldcf = np_max + 4;
  if (tc) {
    L.o_ah = o; o += up8((kTile * kp_max + 1) / 2);
    L.o_cf = o; o += up8(kTile * L.ldcf);
  } else {
    L.o_ah = L.o_cf = 0;
  }
  L.total = o;
  return L;
}

struct KParams {
  Layout L;
  const float* w[16];   // fp32 PyTorch layout (NerfHostWeights order)
  const __half* wh[8];  // fp16 padded
  int kp[8], np[8];
  const float* e1_bias;
  const void* planes[4];
  const float* cm;
  float* out;
};

// ---------------------------------------------------------------- device math

__device__ __forceinline__ float softplus_f(float x) { return x > 20.f ? x : log1pf(expf(x)); }
__device__ __forceinline__ float act_f(float x, int act) {
  if (act == kRelu) return x > 0.f ? x : 0.f;
  if (act == kSoftplus) return softplus_f(x);
  return x;
}

template <typename T>
__device__ __forceinline__ float ld_plane(const T* p);
template <>
__device__ __forceinline__ float ld_plane<float>(const float* p) { return __ldg(p); }
template <>
__device__ __forceinline__ float ld_plane<__half>(const __half* p) { return __half2float(__ldg(p)); }

// Channel c of one bilinear sample of a channel-last (h, w, C) map, as
// grid_sample(bilinear, align_corners=False, zeros) and kernels/bilinear.h's
// bilinear_taps compute it; unfused roundings as the scalar CPU path.
template <typename T>
__device__ float bilinear(const T* map, int h, int w, int C, float gx, float gy, int c) {
  const float ix = __fsub_rn(__fmul_rn(__fadd_rn(gx, 1.f), static_cast<float>(w) * 0.5f), 0.5f);
  const float iy = __fsub_rn(__fmul_rn(__fadd_rn(gy, 1.f), static_cast<float>(h) * 0.5f), 0.5f);
  const float fx = floorf(ix), fy = floorf(iy);
  const float wx = __fsub_rn(ix, fx), wy = __fsub_rn(iy, fy);
  const float e = __fsub_rn(1.f, wx), s = __fsub_rn(1.f, wy);
  const float w0 = __fmul_rn(s, e), w1 = __fmul_rn(s, wx), w2 = __fmul_rn(wy, e), w3 = __fmul_rn(wy, wx);
  float p0 = 0.f, p1 = 0.f, p2 = 0.f, p3 = 0.f;
  if (fx >= -1.f && fx <= static_cast<float>(w) - 1.f && fy >= -1.f && fy <= static_cast<float>(h) - 1.f) {
    const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
    const bool vx0 = x0 >= 0, vx1 = x0 + 1 < w, vy0 = y0 >= 0, vy1 = y0 + 1 < h;
    const T* row0 = map + (static_cast<long long>(y0) * w + x0) * C + c;
    const T* row1 = row0 + static_cast<long long>(w) * C;
    if (vy0 && vx0) p0 = ld_plane<T>(row0);
    if (vy0 && vx1) p1 = ld_plane<T>(row0 + C);
    if (vy1 && vx0) p2 = ld_plane<T>(row1);
    if (vy1 && vx1) p3 = ld_plane<T>(row1 + C);
  }
  float v = __fmul_rn(p0, w0);
  v = __fadd_rn(v, __fmul_rn(p1, w1));
  v = __fadd_rn(v, __fmul_rn(p2, w2));
  v = __fadd_rn(v, __fmul_rn(p3, w3));
  return v;
}

// out[p][o] = act(sum_k in[p][k] W[o][k] + b[o]) for the kTile rows, fp32 on
// CUDA cores. W row stride ldw (PyTorch (out, in) layout, only K columns read).
__device__ void layer_f32(const float* in, int ldi, int K, const float* __restrict__ W, int ldw,
                          const float* __restrict__ b, int N, float* out, int ldo, int act) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  const float* x = in + lane * ldi;
  for (int o0 = warp * 4; o0 < N; o0 += nw * 4) {
    const float* w0 = W + static_cast<long long>(min(o0 + 0, N - 1)) * ldw;
    const float* w1 = W + static_cast<long long>(min(o0 + 1, N - 1)) * ldw;
    const float* w2 = W + static_cast<long long>(min(o0 + 2, N - 1)) * ldw;
    const float* w3 = W + static_cast<long long>(min(o0 + 3, N - 1)) * ldw;
    float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
#pragma unroll 4
    for (int k = 0; k < K; ++k) {
      const float xv = x[k];
      a0 = fmaf(xv, __ldg(w0 + k), a0);
      a1 = fmaf(xv, __ldg(w1 + k), a1);
      a2 = fmaf(xv, __ldg(w2 + k), a2);
      a3 = fmaf(xv, __ldg(w3 + k), a3);
    }
    float* y = out + lane * ldo + o0;
    y[0] = act_f(a0 + __ldg(b + o0), act);
    if (o0 + 1 < N) y[1] = act_f(a1 + __ldg(b + o0 + 1), act);
    if (o0 + 2 < N) y[2] = act_f(a2 + __ldg(b + o0 + 2), act);
    if (o0 + 3 < N) y[3] = act_f(a3 + __ldg(b + o0 + 3), act);
  }
}

// The same layer on tensor cores: the fp32 input tile is rounded to fp16 in
// Ah (kTile x Kp, zero-padded), WMMA 16x16x16 with fp32 accumulators against
// Wh (Np x Kp fp16, read as a col-major K x N matrix straight from L1/L2),
// accumulators to Cf, then bias + activation in fp32. Ends with a barrier.
__device__ void layer_tc(const float* in, int ldi, int K, const __half* __restrict__ Wh, int Kp, int Np,
                         const float* __restrict__ b, int N, float* out, int ldo, int act, __half* Ah, float* Cf,
                         int ldcf) {
  using namespace nvcuda;
  for (int i = threadIdx.x; i < kTile * Kp; i += blockDim.x) {
    const int p = i / Kp, k = i - p * Kp;
    Ah[i] = __float2half_rn(k < K ? in[p * ldi + k] : 0.f);
  }
  __syncthreads();
  const int warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  const int tiles = (kTile / 16) * (Np / 16);
  for (int t = warp; t < tiles; t += nw) {
    const int rt = t % (kTile / 16), ct = t / (kTile / 16);
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.f);
    for (int kk = 0; kk < Kp; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
      wmma::load_matrix_sync(fa, Ah + rt * 16 * Kp + kk, Kp);
      wmma::load_matrix_sync(fb, Wh + static_cast<long long>(ct) * 16 * Kp + kk, Kp);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(Cf + rt * 16 * ldcf + ct * 16, acc, ldcf, wmma::mem_row_major);
  }
  __syncthreads();
  for (int i = threadIdx.x; i < kTile * N; i += blockDim.x) {
    const int p = i / N, o = i - p * N;
    out[p * ldo + o] = act_f(Cf[p * ldcf + o] + __ldg(b + o), act);
  }
}

template <bool TC>
__device__ __forceinline__ void layer(const KParams& P, float* sm, int li, const float* in, int ldi, int K, int wi,
                                      int ldw, const float* b, int N, float* out, int ldo, int act) {
  if constexpr (TC) {
    layer_tc(in, ldi, K, P.wh[li], P.kp[li], P.np[li], b, N, out, ldo, act,
             reinterpret_cast<__half*>(sm + P.L.o_ah), sm + P.L.o_cf, P.L.ldcf);
  } else {
    layer_f32(in, ldi, K, P.w[wi], ldw, b, N, out, ldo, act);
  }
  __syncthreads();
}

// Evaluates ns samples on each of the block's nr rays: depths at ray-area
// dep[slot0 + s], decoder rows to res slots slot0 + s.
template <typename PT, bool TC>
__device__ void run_pass(const KParams& P, float* sm, int nr, int ns, int slot0) {
  const Layout& L = P.L;
  const int tid = threadIdx.x;
  float* rays = sm + L.o_ray;
  float* pts = sm + L.o_pts;
  float* pts2 = sm + L.o_pts2;
  float* A = sm + L.o_a;
  float* X3 = sm + L.o_x3;
  float* X2 = sm + L.o_x2;
  const int npts = nr * ns;
  const float ox = L.m[3], oy = L.m[7], oz = L.m[11];
  for (int t0 = 0; t0 < npts; t0 += kTile) {
    // a. points (source frame): origin + t * dir
    if (tid < kTile) {
      const int p = t0 + tid;
      float x = 0.f, y = 0.f, z = 0.f;
      if (p < npts) {
        const int r = p / ns, s = p - r * ns;
        const float* R = rays + r * L.ray_stride;
        const float td = R[L.r_dep + slot0 + s];
        x = __fadd_rn(ox, __fmul_rn(td, R[0]));
        y = __fadd_rn(oy, __fmul_rn(td, R[1]));
        z = __fadd_rn(oz, __fmul_rn(td, R[2]));
      }
      pts[tid * 3 + 0] = x;
      pts[tid * 3 + 1] = y;
      pts[tid * 3 + 2] = z;
    }
    __syncthreads();
    // b. deform input row: [x, sin/cos(x * float(pi 2^k)) ..., F_cm(qs0 x, qs1 y)]
    for (int i = tid; i < kTile * L.in_dim; i += blockDim.x) {
      const int p = i / L.in_dim, j = i - p * L.in_dim;
      const float* x = pts + p * 3;
      float v;
      if (j < 3) {
        v = x[j];
      } else if (j < L.pe) {
        const int t = j - 3, k = t / 6, m = t - 6 * k;
        const float mult = static_cast<float>(3.14159265358979323846 * static_cast<double>(1 << k));
        const float a = __fmul_rn(x[m < 3 ? m : m - 3], mult);
        v = m < 3 ? sinf(a) : cosf(a);
      } else {
        v = bilinear<float>(P.cm, L.gh, L.gw, L.cm, L.qs[0] * x[0], L.qs[1] * x[1], j - L.pe);
      }
      A[p * L.ld_in + j] = v;
    }
    __syncthreads();
    // c. deformation field MLP (U-Net, deformation_field.cc): X3 = [d2 | e1], X2 = [d1 | e2], c in A
    layer<TC>(P, sm, 0, A, L.ld_in, L.in_dim, 0, L.din, P.e1_bias, L.h0, X3 + L.h0, L.ld_x3, kRelu);
    layer<TC>(P, sm, 1, X3 + L.h0, L.ld_x3, L.h0, 2, L.h0, P.w[3], L.h1, X2 + L.h1, L.ld_x2, kRelu);
    layer<TC>(P, sm, 2, X2 + L.h1, L.ld_x2, L.h1, 4, L.h1, P.w[5], L.h2, A, L.ld_c, kRelu);
    layer<TC>(P, sm, 3, A, L.ld_c, L.h2, 6, L.h2, P.w[7], L.h1, X2, L.ld_x2, kRelu);
    layer<TC>(P, sm, 4, X2, L.ld_x2, 2 * L.h1, 8, 2 * L.h1, P.w[9], L.h0, X3, L.ld_x3, kRelu);
    layer<TC>(P, sm, 5, X3, L.ld_x3, 2 * L.h0, 10, 2 * L.h0, P.w[11], 3, A, L.ld_dx, kNone);
    // d. deformed points
    if (tid < kTile * 3) pts2[tid] = __fadd_rn(pts[tid], A[tid]);
    __syncthreads();
    // e. tri-plane features into X3: per level the mean of XY, XZ, YZ taps
    {
      const int C4 = 4 * L.C;
      for (int i = tid; i < kTile * C4; i += blockDim.x) {
        const int p = i / C4, q = i - p * C4, l = q / L.C, c = q - l * L.C;
        const float q0 = L.qs[0] * pts2[p * 3], q1 = L.qs[1] * pts2[p * 3 + 1], q2 = L.qs[2] * pts2[p * 3 + 2];
        const int h = L.lh[l], w = L.lw[l];
        const PT* base = static_cast<const PT*>(P.planes[l]);
        const long long plane = static_cast<long long>(h) * w * L.C;
        float acc = bilinear<PT>(base, h, w, L.C, q0, q1, c);
        acc = __fadd_rn(acc, bilinear<PT>(base + plane, h, w, L.C, q0, q2, c));
        acc = __fadd_rn(acc, bilinear<PT>(base + 2 * plane, h, w, L.C, q1, q2, c));
        X3[p * L.ld_f + q] = __fdiv_rn(acc, 3.f);
      }
    }
    __syncthreads();
    // f. tri-plane decoder (triplane_decoder.cc): fc1 + softplus -> X2, fc2 -> A
    layer<TC>(P, sm, 6, X3, L.ld_f, 4 * L.C, 12, 4 * L.C, P.w[13], L.hd, X2, L.ld_hd, kSoftplus);
    layer<TC>(P, sm, 7, X2, L.ld_hd, L.hd, 14, L.hd, P.w[15], L.F + 1, A, L.ld_o, kNone);
    // g. rows [sigmoid(feat) * (1 + 2e-3) - 1e-3 | sigma_raw] into the ray's slots
    {
      const int F1 = L.F + 1;
      float* resb = sm + L.o_res;
      for (int i = tid; i < kTile * F1; i += blockDim.x) {
        const int p = i / F1, o = i - p * F1, pp = t0 + p;
        if (pp >= npts) continue;
        const int r = pp / ns, s = pp - r * ns;
        float* row = resb + (r * L.S + slot0 + s) * L.ldr;
        const float v = A[p * L.ld_o + o];
        if (o == 0) {
          row[L.F] = v;
        } else {
          const float sg = 1.f / (1.f + expf(-v));
          row[o - 1] = __fsub_rn(__fmul_rn(sg, 1.f + 2e-3f), 1e-3f);
        }
      }
    }
    __syncthreads();
  }
}

// volume_render.cc composite() for one ray, one warp: lanes over channels.
// Sample i reads res slot (order ? order[i] : i) at depth dep[i].
__device__ void composite_warp(int S, const float* dep, const float* res_ray, int ldr, int F, const int* order,
                               float* weights, float* out) {
  const int lane = threadIdx.x & 31;
  float acc[kMaxFLane];
#pragma unroll
  for (int j = 0; j < kMaxFLane; ++j) acc[j] = 0.f;
  float wsum = 0.f;
  double trans = 1.0;
  for (int i = 0; i + 1 < S; ++i) {
    const float* r0 = res_ray + (order ? order[i] : i) * ldr;
    const float* r1 = res_ray + (order ? order[i + 1] : i + 1) * ldr;
    const float delta = __fsub_rn(dep[i + 1], dep[i]);
    const float sigma = softplus_f(__fsub_rn(__fdiv_rn(__fadd_rn(r1[F], r0[F]), 2.f), 1.f));
    const float a = __fsub_rn(1.f, expf(-__fmul_rn(sigma, delta)));
    const float w = __fmul_rn(a, static_cast<float>(trans));
    trans = __dmul_rn(trans, static_cast<double>(__fadd_rn(__fsub_rn(1.f, a), 1e-10f)));
    if (weights && lane == 0) weights[i] = w;
    wsum = __fadd_rn(wsum, w);
#pragma unroll
    for (int j = 0; j < kMaxFLane; ++j) {
      const int c = lane + 32 * j;
      if (c < F) acc[j] = __fadd_rn(acc[j], __fmul_rn(w, __fdiv_rn(__fadd_rn(r1[c], r0[c]), 2.f)));
    }
  }
  if (out) {
#pragma unroll
    for (int j = 0; j < kMaxFLane; ++j) {
      const int c = lane + 32 * j;
      if (c < F) {
        out[3 + c] = acc[j];
        if (c < 3) out[c] = acc[j];
      }
    }
    if (lane == 0) out[3 + F] = wsum;
  }
}

template <typename PT, bool TC>
__global__ void __launch_bounds__(kThreads) nerf_kernel(const KParams P) {
  extern __shared__ __align__(128) float sm[];
  const Layout& L = P.L;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  const int r0 = blockIdx.x * L.RB;
  const int nr = min(L.RB, L.n_rays - r0);
  float* rays = sm + L.o_ray;
  float* resb = sm + L.o_res;

  // 1. ray directions (camera.cc ray_direction) and coarse depths (bin centres)
  for (int r = warp; r < nr; r += nw) {
    float* R = rays + r * L.ray_stride;
    if (lane == 0) {
      const int pix = r0 + r, row = pix / L.res, col = pix - row * L.res;
      const float u = __fdiv_rn(static_cast<float>(col) + 0.5f, static_cast<float>(L.res));
      const float v = __fdiv_rn(static_cast<float>(row) + 0.5f, static_cast<float>(L.res));
      const float d0 = __fdiv_rn(u - 0.5f, L.focal), d1 = __fdiv_rn(v - 0.5f, L.focal);
      float q[3];
#pragma unroll
      for (int i = 0; i < 3; ++i)
        q[i] = __fadd_rn(__fadd_rn(__fmul_rn(d0, L.m[i * 4]), __fmul_rn(d1, L.m[i * 4 + 1])), L.m[i * 4 + 2]);
      const float n = sqrtf(__fadd_rn(__fadd_rn(__fmul_rn(q[0], q[0]), __fmul_rn(q[1], q[1])), __fmul_rn(q[2], q[2])));
#pragma unroll
      for (int i = 0; i < 3; ++i) R[i] = __fdiv_rn(q[i], n);
    }
    const float span = L.far_ - L.near_;
    for (int s = lane; s < L.Nc; s += 32)
      R[L.r_dep + s] = __fadd_rn(L.near_, __fdiv_rn(__fmul_rn(span, static_cast<float>(s) + 0.5f),
                                                    static_cast<float>(L.Nc)));
  }
  __syncthreads();

  // 2. coarse pass
  run_pass<PT, TC>(P, sm, nr, L.Nc, 0);

  // 3. coarse weights -> importance depths (volume_render.cc importance_depths)
  for (int r = warp; r < nr; r += nw) {
    float* R = rays + r * L.ray_stride;
    float* wts = R + L.r_w;
    float* cdf = R + L.r_cdf;
    composite_warp(L.Nc, R + L.r_dep, resb + r * L.S * L.ldr, L.ldr, L.F, nullptr, wts, nullptr);
    __syncwarp();
    if (lane == 0) {
      float total = 0.f;
      for (int i = 0; i + 1 < L.Nc; ++i) total = __fadd_rn(total, __fadd_rn(wts[i], 0.01f));
      double acc = 0.0;
      cdf[0] = 0.f;
      for (int i = 0; i + 1 < L.Nc; ++i) {
        acc = __dadd_rn(acc, static_cast<double>(__fdiv_rn(__fadd_rn(wts[i], 0.01f), total)));
        cdf[i + 1] = static_cast<float>(acc);
      }
    }
    __syncwarp();
    for (int j = lane; j < L.Ni; j += 32) {
      const float u = __fdiv_rn(static_cast<float>(j) + 0.5f, static_cast<float>(L.Ni));
      int k = 0;
      while (k + 1 < L.Nc && cdf[k + 1] <= u) ++k;
      const int kk = k > L.Nc - 2 ? L.Nc - 2 : k;
      const float c0 = cdf[kk], c1 = cdf[kk + 1], t0 = R[L.r_dep + kk], t1 = R[L.r_dep + kk + 1];
      R[L.r_dep + L.Nc + j] =
          __fadd_rn(t0, __fmul_rn(__fdiv_rn(__fsub_rn(u, c0), __fsub_rn(c1, c0)), __fsub_rn(t1, t0)));
    }
  }
  __syncthreads();

  // 4. fine pass
  if (L.Ni > 0) run_pass<PT, TC>(P, sm, nr, L.Ni, L.Nc);

  // 5. stable merge (volume_render.cc merge_order) and the final composite
  for (int r = warp; r < nr; r += nw) {
    float* R = rays + r * L.ray_stride;
    const float* a = R + L.r_dep;
    const float* b = R + L.r_dep + L.Nc;
    float* merged = R + L.r_merged;
    int* order = reinterpret_cast<int*>(R + L.r_order);
    int* bs = reinterpret_cast<int*>(R + L.r_bs);
    if (lane == 0) {
      for (int j = 0; j < L.Ni; ++j) {
        int p = j;
        while (p > 0 && b[bs[p - 1]] > b[j]) {
          bs[p] = bs[p - 1];
          --p;
        }
        bs[p] = j;
      }
      int i = 0, j = 0, o = 0;
      while (i < L.Nc && j < L.Ni) {
        if (b[bs[j]] < a[i]) {
          merged[o] = b[bs[j]];
          order[o++] = L.Nc + bs[j++];
        } else {
          merged[o] = a[i];
          order[o++] = i++;
        }
      }
      while (i < L.Nc) {
        merged[o] = a[i];
        order[o++] = i++;
      }
      while (j < L.Ni) {
        merged[o] = b[bs[j]];
        order[o++] = L.Nc + bs[j++];
      }
    }
    __syncwarp();
    float* out = P.out + static_cast<long long>(r0 + r) * (L.F + 4);
    composite_warp(L.S, merged, resb + r * L.S * L.ldr, L.ldr, L.F, order, nullptr, out);
  }
}

// e1 bias with the audio code folded in, in double as DeformationField::fold_code.
__global__ void fold_code_kernel(const float* e1_w, int din, int in_dim, int A, const float* e1_b, const float* code,
                                 float* out, int h0) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= h0) return;
  double s = 0.0;
  const float* wr = e1_w + static_cast<long long>(o) * din + in_dim;
  for (int k = 0; k < A; ++k) s = __dadd_rn(s, __dmul_rn(static_cast<double>(wr[k]), static_cast<double>(code[k])));
  out[o] = static_cast<float>(__dadd_rn(s, static_cast<double>(e1_b[o])));
}

__global__ void to_half_kernel(const float* in, __half* out, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = __float2half_rn(in[i]);
}

// ------------------------------------------------------------------ host side

using M4 = float[16];

// camera.cc, same float/double operations: mat4_mul, mat4_inverse (Gauss-
// Jordan with partial pivoting in double), frontal_pose.
void mat_mul(const float* a, const float* b, float* c) {
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      float s = 0.f;
      for (int k = 0; k < 4; ++k) s += a[i * 4 + k] * b[k * 4 + j];
      c[i * 4 + j] = s;
    }
}

bool mat_inverse(const float* mf, float* o) {
  double a[4][8];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      if (!std::isfinite(mf[i * 4 + j])) return false;
      a[i][j] = mf[i * 4 + j];
      a[i][4 + j] = i == j ? 1.0 : 0.0;
    }
  for (int c = 0; c < 4; ++c) {
    int p = c;
    for (int r = c + 1; r < 4; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[p][c])) p = r;
    if (std::fabs(a[p][c]) < 1e-12) return false;
    if (p != c)
      for (int j = 0; j < 8; ++j) std::swap(a[p][j], a[c][j]);
    const double inv = 1.0 / a[c][c];
    for (int j = 0; j < 8; ++j) a[c][j] *= inv;
    for (int r = 0; r < 4; ++r) {
      if (r == c) continue;
      const double f = a[r][c];
      if (f != 0.0)
        for (int j = 0; j < 8; ++j) a[r][j] -= f * a[c][j];
    }
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) o[i * 4 + j] = static_cast<float>(a[i][4 + j]);
  return true;
}

int padded_k(const CudaNerfDims& d, int i) {
  const int k[8] = {d.pe_dim() + d.cm_channels, d.h0, d.h1, d.h2, 2 * d.h1, 2 * d.h0, d.point_feat(), d.decoder_hidden};
  return up16(k[i]);
}
int padded_n(const CudaNerfDims& d, int i) {
  const int n[8] = {d.h0, d.h1, d.h2, d.h1, d.h0, 3, d.decoder_hidden, 1 + d.feat_channels};
  return up16(n[i]);
}
int max_kp(const CudaNerfDims& d) {
  int m = 0;
  for (int i = 0; i < 8; ++i) m = std::max(m, padded_k(d, i));
  return m;
}
int max_np(const CudaNerfDims& d) {
  int m = 0;
  for (int i = 0; i < 8; ++i) m = std::max(m, padded_n(d, i));
  return m;
}

template <typename PT, bool TC>
cudaError_t launch(const KParams& kp, size_t smem, int blocks, cudaStream_t stream) {
  S3D_CUDA_TRY(cudaFuncSetAttribute(nerf_kernel<PT, TC>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(smem)));
  nerf_kernel<PT, TC><<<blocks, kThreads, smem, stream>>>(kp);
  S3D_CUDA_TRY(cudaGetLastError());
  return cudaSuccess;
}

}  // namespace

size_t nerf_smem_bytes(const CudaNerfDims& d, int rb, bool tc) {
  return sizeof(float) * static_cast<size_t>(make_layout(d, rb, tc, max_kp(d), max_np(d)).total);
}

int nerf_default_rays_per_block(const CudaNerfDims& d, bool tc) {
  // Fill whole 32-point tiles when a few rays do (48 samples: 2 rays = 3 tiles),
  // and keep the block under ~112 KB so two blocks share an SM.
  int rb = 1;
  for (int r = 1; r <= 8; ++r)
    if ((r * d.n_coarse) % kTile == 0) {
      rb = r;
      break;
    }
  while (rb > 1 && nerf_smem_bytes(d, rb, tc) > 112 * 1024) --rb;
  return rb;
}

void nerf_round_fp16_host(float* data, size_t n) {
  for (size_t i = 0; i < n; ++i) data[i] = __half2float(__float2half_rn(data[i]));
}

void nerf_weights_free(CudaNerfWeights* w) {
  if (!w) return;
  for (float*& p : w->f32) {
    if (p) cudaFree(p);
    p = nullptr;
  }
  for (void*& p : w->f16) {
    if (p) cudaFree(p);
    p = nullptr;
  }
  if (w->e1_bias) cudaFree(w->e1_bias);
  w->e1_bias = nullptr;
}

static cudaError_t weights_upload_impl(const CudaNerfDims& d, const NerfHostWeights& host, CudaNerfWeights* out) {
  out->dims = d;
  const float* src[16] = {host.e1_w, host.e1_b, host.e2_w, host.e2_b, host.e3_w, host.e3_b, host.d1_w, host.d1_b,
                          host.d2_w, host.d2_b, host.d3_w, host.d3_b, host.fc1_w, host.fc1_b, host.fc2_w, host.fc2_b};
  // (out, in) of the 8 linears in PyTorch layout
  const int lo[8] = {d.h0, d.h1, d.h2, d.h1, d.h0, 3, d.decoder_hidden, 1 + d.feat_channels};
  const int li[8] = {d.deform_in(), d.h0, d.h1, d.h2, 2 * d.h1, 2 * d.h0, d.point_feat(), d.decoder_hidden};
  for (int i = 0; i < 16; ++i) {
    if (!src[i]) return fail(cudaErrorInvalidValue, "nerf_weights_upload: a host weight pointer is null");
    const size_t n = i % 2 == 0 ? static_cast<size_t>(lo[i / 2]) * li[i / 2] : static_cast<size_t>(lo[i / 2]);
    S3D_CUDA_TRY(cudaMalloc(&out->f32[i], n * sizeof(float)));
    S3D_CUDA_TRY(cudaMemcpy(out->f32[i], src[i], n * sizeof(float), cudaMemcpyHostToDevice));
  }
  // fp16 copies, zero-padded; e1 keeps only its first pe + cm columns.
  const int kused[8] = {d.pe_dim() + d.cm_channels, d.h0, d.h1, d.h2, 2 * d.h1, 2 * d.h0, d.point_feat(),
                        d.decoder_hidden};
  for (int i = 0; i < 8; ++i) {
    const int Kp = padded_k(d, i), Np = padded_n(d, i);
    std::vector<__half> h(static_cast<size_t>(Kp) * Np, __float2half_rn(0.f));
    for (int o = 0; o < lo[i]; ++o)
      for (int k = 0; k < kused[i]; ++k)
        h[static_cast<size_t>(o) * Kp + k] = __float2half_rn(src[2 * i][static_cast<size_t>(o) * li[i] + k]);
    S3D_CUDA_TRY(cudaMalloc(&out->f16[i], h.size() * sizeof(__half)));
    S3D_CUDA_TRY(cudaMemcpy(out->f16[i], h.data(), h.size() * sizeof(__half), cudaMemcpyHostToDevice));
    out->f16_k[i] = Kp;
    out->f16_n[i] = Np;
  }
  S3D_CUDA_TRY(cudaMalloc(&out->e1_bias, sizeof(float) * d.h0));
  return cudaSuccess;
}

cudaError_t nerf_weights_upload(const CudaNerfDims& d, const NerfHostWeights& host, CudaNerfWeights* out) {
  *out = CudaNerfWeights();
  const cudaError_t e = weights_upload_impl(d, host, out);
  if (e != cudaSuccess) nerf_weights_free(out);
  return e;
}

void nerf_planes_free(CudaNerfPlanes* p) {
  if (!p) return;
  for (void*& l : p->level) {
    if (l) cudaFree(l);
    l = nullptr;
  }
}

static cudaError_t planes_upload_impl(const float* const levels[4], const int h[4], const int w[4], int C, bool fp16,
                                      CudaNerfPlanes* out) {
  out->C = C;
  out->fp16 = fp16;
  for (int l = 0; l < 4; ++l) {
    out->h[l] = h[l];
    out->w[l] = w[l];
    const size_t n = static_cast<size_t>(3) * h[l] * w[l] * C;
    if (!fp16) {
      S3D_CUDA_TRY(cudaMalloc(&out->level[l], n * sizeof(float)));
      S3D_CUDA_TRY(cudaMemcpy(out->level[l], levels[l], n * sizeof(float), cudaMemcpyHostToDevice));
    } else {
      float* tmp = nullptr;
      S3D_CUDA_TRY(cudaMalloc(&out->level[l], n * sizeof(__half)));
      S3D_CUDA_TRY(cudaMalloc(&tmp, n * sizeof(float)));
      cudaError_t e = cudaMemcpy(tmp, levels[l], n * sizeof(float), cudaMemcpyHostToDevice);
      if (e == cudaSuccess) {
        to_half_kernel<<<256, 256>>>(tmp, static_cast<__half*>(out->level[l]), n);
        e = cudaGetLastError();
      }
      if (e == cudaSuccess) e = cudaDeviceSynchronize();
      cudaFree(tmp);
      if (e != cudaSuccess) return record(e, "plane fp16 conversion", __FILE__, __LINE__);
    }
  }
  return cudaSuccess;
}

cudaError_t nerf_planes_upload(const float* const levels[4], const int h[4], const int w[4], int C, bool fp16,
                               CudaNerfPlanes* out) {
  *out = CudaNerfPlanes();
  const cudaError_t e = planes_upload_impl(levels, h, w, C, fp16, out);
  if (e != cudaSuccess) nerf_planes_free(out);
  return e;
}

cudaError_t nerf_render_cuda(const CudaNerfParams& prm, cudaStream_t stream) {
  if (!prm.weights || !prm.planes || !prm.cm || !prm.code || !prm.out)
    return fail(cudaErrorInvalidValue, "nerf_render_cuda: weights, planes, cm, code and out are required");
  const CudaNerfWeights& W = *prm.weights;
  const CudaNerfDims& d = W.dims;
  if (prm.planes->C != d.plane_channels)
    return fail(cudaErrorInvalidValue, "nerf_render_cuda: planes have " + std::to_string(prm.planes->C) +
                                           " channels, the model " + std::to_string(d.plane_channels));
  if (d.n_coarse < 2) return fail(cudaErrorInvalidValue, "nerf_render_cuda: n_coarse must be at least 2");
  if (d.feat_channels > 32 * kMaxFLane || d.feat_channels < 3)
    return fail(cudaErrorInvalidValue, "nerf_render_cuda: feat_channels must be in [3, 128]");
  if (prm.cm_h <= 0 || prm.cm_w <= 0) return fail(cudaErrorInvalidValue, "nerf_render_cuda: empty F_cm map");
  if (d.pe_freqs > 30) return fail(cudaErrorInvalidValue, "nerf_render_cuda: pe_freqs must be at most 30");

  // M = F * inv(P_src) * P_tar on the host, exactly as camera.cc ray_transform.
  float inv[16], front[16] = {1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, d.cam_radius, 0, 0, 0, 1}, A[16], M[16];
  if (!mat_inverse(prm.pose_src, inv))
    return fail(cudaErrorInvalidValue, "nerf_render_cuda: Expected an invertible, finite source pose");
  mat_mul(front, inv, A);
  mat_mul(A, prm.pose_tar, M);

  const bool tc = prm.tensor_cores;
  const int rb = prm.rays_per_block > 0 ? prm.rays_per_block : nerf_default_rays_per_block(d, tc);
  KParams kp{};
  kp.L = make_layout(d, rb, tc, max_kp(d), max_np(d));
  kp.L.gh = prm.cm_h;
  kp.L.gw = prm.cm_w;
  std::memcpy(kp.L.m, M, sizeof kp.L.m);
  for (int l = 0; l < 4; ++l) {
    kp.L.lh[l] = prm.planes->h[l];
    kp.L.lw[l] = prm.planes->w[l];
    kp.planes[l] = prm.planes->level[l];
  }
  for (int i = 0; i < 16; ++i) kp.w[i] = W.f32[i];
  for (int i = 0; i < 8; ++i) {
    kp.wh[i] = static_cast<const __half*>(W.f16[i]);
    kp.kp[i] = W.f16_k[i];
    kp.np[i] = W.f16_n[i];
  }
  kp.e1_bias = W.e1_bias;
  kp.cm = prm.cm;
  kp.out = prm.out;

  const size_t smem = sizeof(float) * static_cast<size_t>(kp.L.total);
  int dev = 0, optin = 0;
  S3D_CUDA_TRY(cudaGetDevice(&dev));
  S3D_CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  if (smem > static_cast<size_t>(optin))
    return fail(cudaErrorInvalidConfiguration, "nerf_render_cuda: the block needs " + std::to_string(smem) +
                                                   " bytes of shared memory, the device allows " +
                                                   std::to_string(optin));

  fold_code_kernel<<<(d.h0 + 127) / 128, 128, 0, stream>>>(W.f32[0], d.deform_in(), d.pe_dim() + d.cm_channels,
                                                          d.audio_code, W.f32[1], prm.code, W.e1_bias, d.h0);
  S3D_CUDA_TRY(cudaGetLastError());
  const int blocks = (kp.L.n_rays + rb - 1) / rb;
  if (prm.planes->fp16)
    return tc ? launch<__half, true>(kp, smem, blocks, stream) : launch<__half, false>(kp, smem, blocks, stream);
  return tc ? launch<float, true>(kp, smem, blocks, stream) : launch<float, false>(kp, smem, blocks, stream);
}

}  // namespace cuda
}  // namespace s3d
