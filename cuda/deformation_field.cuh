// The deformation field on the GPU (CPU twin: cpp/model/deformation_field.h;
// paper Eq. 4, DESIGN §3.2). Input row per point: [gamma(x) (pe) | F_cm(q0 x,
// q1 y) (cm)], with the audio code folded into e1's bias once per frame
// (fold_code_row, shared with the CPU in cpp/model/deformation_field_math.h).
// Layers: e1 in->h0, e2 h0->h1, e3 h1->h2, d1 h2->h1, d2 [d1, e2] -> h0,
// d3 [d2, e1] -> 3, ReLU except on d3.
//
// Host part (plain C++): the weights on the device, their upload and the
// per-frame fold (deformation_field.cu). Device part (nvcc only): the input
// rows and the MLP of one tile, called by the fused kernel (nerf_renderer.cu).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "gemm.cuh"

namespace s3d::cuda {

// Host fp32 tensors in PyTorch layout ("deform.e1.weight", ...).
struct DeformationHostWeights {
  const float *e1_w, *e1_b, *e2_w, *e2_b, *e3_w, *e3_b;
  const float *d1_w, *d1_b, *d2_w, *d2_b, *d3_w, *d3_b;
};

struct CudaDeformationField {
  CudaLinear layer[6];          // e1, e2, e3, d1, d2, d3; e1 whole (pe + cm + code inputs)
  DeviceBuffer<float> e1_bias;  // (h0) per frame: e1's bias with the code folded in
  int in_dim = 0, code = 0;     // pe + cm, and the code's length
};

// The six layers' shapes; in_dim = pe + cm.
void deformation_field_shapes(int in_dim, int code, int h0, int h1, int h2, LinearShape out[6]);

int32_t deformation_field_upload(s3d_cuda_context* ctx, const DeformationHostWeights& host, int in_dim, int code,
                                 int h0, int h1, int h2, CudaDeformationField* out, s3d_cuda_error* err);

// e1_bias = e1.bias + e1.weight[:, in_dim:] code, `code` a device vector, on
// `stream` (asynchronous).
int32_t deformation_field_fold_code(const CudaDeformationField& field, const float* code, cudaStream_t stream,
                                    s3d_cuda_error* err);

}  // namespace s3d::cuda

#ifdef __CUDACC__
#include "bilinear.cuh"

namespace s3d::cuda {

// Input rows (kTile, in_dim), row stride ld, of the tile's points pts (kTile, 3):
// [x, sin/cos(x * float(pi 2^k)) for k < freqs, F_cm (gh, gw, cm) sampled at
// (q0 x, q1 y)]. sinf/cosf (the CPU's sincos_n agrees to ~1e-7). Ends with a barrier.
__device__ __forceinline__ void deformation_inputs_tile(const float* pts, int freqs, int in_dim, const float* cm,
                                                        int gh, int gw, int cm_channels, float q0, float q1,
                                                        float* in, int ld) {
  const int pe = 3 + 6 * freqs;
  for (int i = threadIdx.x; i < kTile * in_dim; i += blockDim.x) {
    const int p = i / in_dim, j = i - p * in_dim;
    const float* x = pts + p * 3;
    float v;
    if (j < 3) {
      v = x[j];
    } else if (j < pe) {
      const int t = j - 3, k = t / 6, m = t - 6 * k;
      const float mult = static_cast<float>(3.14159265358979323846 * static_cast<double>(1 << k));
      const float a = __fmul_rn(x[m < 3 ? m : m - 3], mult);
      v = m < 3 ? sinf(a) : cosf(a);
    } else {
      v = bilinear<float>(cm, gh, gw, cm_channels, q0 * x[0], q1 * x[1], j - pe);
    }
    in[p * ld + j] = v;
  }
  __syncthreads();
}

// The MLP on a tile (layer: e1..d3 views). a holds the input rows (stride
// ld_in); it then takes e3's output (stride ld_c) and ends with dx (kTile, 3),
// stride 3. Concats live in place: x3 = [d2 | e1] (2 h0), x2 = [d1 | e2] (2 h1).
// Each layer ends with a barrier.
template <bool TC>
__device__ __forceinline__ void deformation_field_tile(const LinearView* layer, float* a, int ld_in, int ld_c,
                                                       float* x3, int ld_x3, float* x2, int ld_x2,
                                                       const TcStaging& tc) {
  const int h0 = layer[0].n, h1 = layer[1].n;
  linear_tile<TC>(layer[0], a, ld_in, x3 + h0, ld_x3, Act::Relu, tc);       // e1
  linear_tile<TC>(layer[1], x3 + h0, ld_x3, x2 + h1, ld_x2, Act::Relu, tc);  // e2
  linear_tile<TC>(layer[2], x2 + h1, ld_x2, a, ld_c, Act::Relu, tc);        // e3
  linear_tile<TC>(layer[3], a, ld_c, x2, ld_x2, Act::Relu, tc);             // d1
  linear_tile<TC>(layer[4], x2, ld_x2, x3, ld_x3, Act::Relu, tc);           // d2
  LinearView d3 = layer[5];
  d3.n = 3;  // known here: the compiler drops the unused 4th output of a lane's group
  linear_tile<TC>(d3, x3, ld_x3, a, 3, Act::None, tc);                      // dx
}

}  // namespace s3d::cuda
#endif  // __CUDACC__
