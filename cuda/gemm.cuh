// Dense layers of the fused kernels, on one tile of kTile points (CPU twin:
// cpp/kernels/gemm.h, pack_linear + gemm with a bias + activation epilogue).
//
// Host part (plain C++, includable from .cc): CudaLinear, one nn.Linear on the
// device, its shape, and linear_upload (gemm.cu) that packs the tensor-core copy.
// Device part (nvcc only): linear_tile<TC>, out = act(in W^T + b) for the
// tile's rows, fp32 on CUDA cores or WMMA fp16 x fp16 -> fp32 on tensor cores.
#pragma once
#include <cstdint>

#include "device_buffer.cuh"

namespace s3d::cuda {

inline int round_up16(int k) { return (k + 15) / 16 * 16; }

// An nn.Linear (out, in) of which the kernels read the first k_used input
// columns (e1's code columns are folded into its bias instead).
struct LinearShape {
  int out, in, k_used;
  int kp() const { return round_up16(k_used); }  // tensor-core copy: (np, kp)
  int np() const { return round_up16(out); }
};

// One nn.Linear on the device: fp32 in PyTorch layout for the CUDA-core path,
// and for the tensor-core path an fp16 copy of its first k_used columns,
// zero-padded to (np, kp).
struct CudaLinear {
  LinearShape shape{0, 0, 0};
  DeviceBuffer<float> weight;         // (out, in)
  DeviceBuffer<float> bias;           // (out)
  DeviceBuffer<uint16_t> weight_f16;  // (np, kp) __half bits
};

// Uploads host (out, in) weight and (out) bias (ctx: see device_buffer.cuh).
int32_t linear_upload(s3d_cuda_context* ctx, const LinearShape& shape, const float* weight, const float* bias,
                      CudaLinear* out, s3d_cuda_error* err);

}  // namespace s3d::cuda

#ifdef __CUDACC__
#include <cuda_fp16.h>
#include <mma.h>

#include "kernels/activation.h"  // Act, softplus: the CPU's

namespace s3d::cuda {

constexpr int kTile = 32;  // points per tile = lanes per warp: one point per lane

// A layer as the tile code reads it.
struct LinearView {
  const float* w;    // fp32 (n, ldw), PyTorch layout
  const float* b;    // (n); e1's is the per-frame folded bias
  const __half* wh;  // fp16 (np, kp), zero-padded
  int ldw, k, n;     // row stride of w, inputs read (k_used), outputs
  int kp, np;
};

inline LinearView linear_view(const CudaLinear& l, const float* bias = nullptr) {
  return LinearView{l.weight.data(), bias ? bias : l.bias.data(),
                    reinterpret_cast<const __half*>(l.weight_f16.data()), l.shape.in, l.shape.k_used, l.shape.out,
                    l.shape.kp(), l.shape.np()};
}

// Shared-memory staging of the tensor-core path.
struct TcStaging {
  __half* ah;  // (kTile, kp_max) fp16 copy of a layer's input
  float* cf;   // (kTile, ldcf) fp32 accumulators
  int ldcf;
};

__device__ __forceinline__ float act_f(float x, Act act) {
  if (act == Act::Relu) return x > 0.f ? x : 0.f;
  if (act == Act::Softplus) return softplus(x);
  return x;
}

// out[p][o] = act(sum_k in[p][k] W[o][k] + b[o]) for the kTile rows, fp32 on
// CUDA cores. A warp takes groups of 4 outputs, a lane 1 point x 4 outputs per
// k step (one shared-memory load, four FMAs, weights as warp-uniform read-only
// loads served by L1). W row stride ldw (only K columns read).
__device__ __forceinline__ void layer_f32(const float* in, int ldi, int K, const float* __restrict__ W, int ldw,
                                          const float* __restrict__ b, int N, float* out, int ldo, Act act) {
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
// accumulators to Cf, then bias + activation in fp32.
__device__ __forceinline__ void layer_tc(const float* in, int ldi, int K, const __half* __restrict__ Wh, int Kp,
                                         int Np, const float* __restrict__ b, int N, float* out, int ldo, Act act,
                                         __half* Ah, float* Cf, int ldcf) {
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

// out (kTile, layer.n), row stride ldo = act(in (kTile, layer.k), stride ldi,
// times the layer). Ends with a barrier: out is ready for the whole block.
template <bool TC>
__device__ __forceinline__ void linear_tile(const LinearView& layer, const float* in, int ldi, float* out, int ldo,
                                            Act act, const TcStaging& tc) {
  if constexpr (TC) {
    layer_tc(in, ldi, layer.k, layer.wh, layer.kp, layer.np, layer.b, layer.n, out, ldo, act, tc.ah, tc.cf, tc.ldcf);
  } else {
    layer_f32(in, ldi, layer.k, layer.w, layer.ldw, layer.b, layer.n, out, ldo, act);
  }
  __syncthreads();
}

}  // namespace s3d::cuda
#endif  // __CUDACC__
