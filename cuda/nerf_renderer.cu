// The fused per-ray NeRF kernel (CPU twin: cpp/model/nerf_renderer.cc; see
// nerf_renderer.cuh for the API): it chains the ops' tile and warp functions
// (deformation_field.cuh, triplane.cuh, triplane_decoder.cuh, volume_render.cuh)
// and the ray math shared with the CPU (cpp/model/camera_math.h).
//
// Work decomposition: one block of kThreads = 128 threads (4 warps) renders
// RB rays end to end. Points are processed in tiles of kTile = 32 (one point
// per lane); an MLP layer gives each warp groups of 4 output neurons, so a
// lane does 1 point x 4 outputs per k step (gemm.cuh). Everything per point
// lives in shared memory:
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

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "model/camera_math.h"
#include "volume_render.cuh"

namespace s3d::cuda {

namespace {

constexpr int kThreads = 128;

inline int odd(int k) { return k | 1; }
inline int up8(int k) { return (k + 7) / 8 * 8; }

// Shared-memory layout (offsets in floats) and the per-launch constants.
struct Layout {
  int res, Nc, Ni, S, F, C, cm, gh, gw, freqs, in_dim, h0, h1, h2, hd, n_rays, RB;
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
  L.in_dim = d.pe_dim() + L.cm;
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
  LinearView deform[6];   // e1 (with the per-frame folded bias), e2, e3, d1, d2, d3
  LinearView decoder[2];  // fc1, fc2
  const void* planes[4];  // float or __half (3, lh, lw, C) per level
  const float* cm;
  float* out;
};

// ---------------------------------------------------------------- device side

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
  const TcStaging tc{reinterpret_cast<__half*>(sm + L.o_ah), sm + L.o_cf, L.ldcf};
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
    // b, c. deformation field: input rows into A, the MLP leaves dx in A
    deformation_inputs_tile(pts, L.freqs, L.in_dim, P.cm, L.gh, L.gw, L.cm, L.qs[0], L.qs[1], A, L.ld_in);
    deformation_field_tile<TC>(P.deform, A, L.ld_in, L.ld_c, X3, L.ld_x3, X2, L.ld_x2, tc);
    // d. deformed points
    if (tid < kTile * 3) pts2[tid] = __fadd_rn(pts[tid], A[tid]);
    __syncthreads();
    // e. tri-plane features into X3
    triplane_tile<PT>(P.planes, L.lh, L.lw, L.C, L.qs, pts2, X3, L.ld_f);
    // f. tri-plane decoder: hidden in X2, [sigma_raw | logits] in A
    triplane_decoder_tile<TC>(P.decoder, X3, L.ld_f, X2, L.ld_hd, A, L.ld_o, tc);
    // g. rows [feat | sigma_raw] into the ray's slots
    {
      const int F1 = L.F + 1;
      float* resb = sm + L.o_res;
      for (int i = tid; i < kTile * F1; i += blockDim.x) {
        const int p = i / F1, o = i - p * F1, pp = t0 + p;
        if (pp >= npts) continue;
        const int r = pp / ns, s = pp - r * ns;
        float* row = resb + (r * L.S + slot0 + s) * L.ldr;
        const float v = A[p * L.ld_o + o];
        if (o == 0)
          row[L.F] = v;
        else
          row[o - 1] = decoder_feature(v);
      }
    }
    __syncthreads();
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

  // 1. ray directions (camera_math.h) and coarse depths (bin centres)
  for (int r = warp; r < nr; r += nw) {
    float* R = rays + r * L.ray_stride;
    if (lane == 0) {
      const int pix = r0 + r, row = pix / L.res, col = pix - row * L.res;
      ray_direction(L.m, row, col, L.res, L.focal, R);
    }
    const float span = L.far_ - L.near_;
    for (int s = lane; s < L.Nc; s += 32) R[L.r_dep + s] = coarse_depth(L.near_, span, s, L.Nc);
  }
  __syncthreads();

  // 2. coarse pass
  run_pass<PT, TC>(P, sm, nr, L.Nc, 0);

  // 3. coarse weights -> importance depths
  for (int r = warp; r < nr; r += nw) {
    float* R = rays + r * L.ray_stride;
    float* wts = R + L.r_w;
    composite_warp(L.Nc, R + L.r_dep, resb + r * L.S * L.ldr, L.ldr, L.F, nullptr, wts, nullptr);
    __syncwarp();
    importance_depths_warp(L.Nc, R + L.r_dep, wts, L.Ni, R + L.r_dep + L.Nc, R + L.r_cdf);
  }
  __syncthreads();

  // 4. fine pass
  if (L.Ni > 0) run_pass<PT, TC>(P, sm, nr, L.Ni, L.Nc);

  // 5. stable merge and the final composite
  for (int r = warp; r < nr; r += nw) {
    float* R = rays + r * L.ray_stride;
    float* merged = R + L.r_merged;
    int* order = reinterpret_cast<int*>(R + L.r_order);
    merge_order_warp(L.Nc, R + L.r_dep, L.Ni, R + L.r_dep + L.Nc, order, merged,
                     reinterpret_cast<int*>(R + L.r_bs));
    float* out = P.out + static_cast<long long>(r0 + r) * (L.F + 4);
    composite_warp(L.S, merged, resb + r * L.S * L.ldr, L.ldr, L.F, order, nullptr, out);
  }
}

// ------------------------------------------------------------------ host side

// The 8 layers in kernel order: the deformation field's 6, the decoder's 2.
void layer_shapes(const CudaNerfDims& d, LinearShape out[8]) {
  deformation_field_shapes(d.pe_dim() + d.cm_channels, d.audio_code, d.h0, d.h1, d.h2, out);
  triplane_decoder_shapes(d.point_feat(), d.decoder_hidden, d.feat_channels, out + 6);
}

Layout layout_for(const CudaNerfDims& d, int rb, bool tc) {
  LinearShape shapes[8];
  layer_shapes(d, shapes);
  int kp_max = 0, np_max = 0;
  for (const LinearShape& s : shapes) {
    kp_max = std::max(kp_max, s.kp());
    np_max = std::max(np_max, s.np());
  }
  return make_layout(d, rb, tc, kp_max, np_max);
}

template <typename PT, bool TC>
int32_t launch(const KParams& kp, size_t smem, int blocks, cudaStream_t stream, s3d_cuda_error* err) {
  S3D_CUDA_CHECK(cudaFuncSetAttribute(nerf_kernel<PT, TC>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(smem)),
                 err);
  nerf_kernel<PT, TC><<<blocks, kThreads, smem, stream>>>(kp);
  S3D_CUDA_CHECK_LAUNCH("nerf_kernel", err);
  return S3D_CUDA_OK;
}

int32_t invalid(s3d_cuda_error* err, int line, const std::string& message) {
  return fail(err, S3D_CUDA_INVALID_ARGUMENT, "nerf_render_cuda", __FILE__, line, "nerf_render_cuda: " + message);
}

}  // namespace

size_t nerf_smem_bytes(const CudaNerfDims& d, int rb, bool tc) {
  return sizeof(float) * static_cast<size_t>(layout_for(d, rb, tc).total);
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

int32_t nerf_weights_upload(s3d_cuda_context* ctx, const CudaNerfDims& d, const NerfHostWeights& host,
                            CudaNerfWeights* out, s3d_cuda_error* err) {
  *out = CudaNerfWeights();
  CudaNerfWeights w;
  w.dims = d;
  S3D_CUDA_TRY(deformation_field_upload(ctx, host.deform, d.pe_dim() + d.cm_channels, d.audio_code, d.h0, d.h1,
                                        d.h2, &w.deform, err));
  S3D_CUDA_TRY(triplane_decoder_upload(ctx, host.decoder, d.point_feat(), d.decoder_hidden, d.feat_channels,
                                       &w.decoder, err));
  *out = std::move(w);
  return S3D_CUDA_OK;
}

int32_t nerf_render_cuda(const CudaNerfParams& prm, cudaStream_t stream, s3d_cuda_error* err) {
  if (!prm.weights || !prm.planes || !prm.cm || !prm.code || !prm.out)
    return invalid(err, __LINE__, "weights, planes, cm, code and out are required");
  const CudaNerfWeights& W = *prm.weights;
  const CudaNerfDims& d = W.dims;
  if (W.deform.e1_bias.empty()) return invalid(err, __LINE__, "the weights are not uploaded (nerf_weights_upload)");
  if (prm.planes->C != d.plane_channels)
    return invalid(err, __LINE__, "planes have " + std::to_string(prm.planes->C) + " channels, the model " +
                                      std::to_string(d.plane_channels));
  if (d.n_coarse < 2) return invalid(err, __LINE__, "n_coarse must be at least 2");
  if (d.feat_channels > 32 * kMaxFLane || d.feat_channels < 3)
    return invalid(err, __LINE__, "feat_channels must be in [3, 128]");
  if (prm.cm_h <= 0 || prm.cm_w <= 0) return invalid(err, __LINE__, "empty F_cm map");
  if (d.pe_freqs > 30) return invalid(err, __LINE__, "pe_freqs must be at most 30");

  // M = F * inv(P_src) * P_tar on the host, the CPU's ray_transform.
  float M[16];
  if (ray_transform(prm.pose_tar, prm.pose_src, d.cam_radius, M) != Mat4Inverse::Ok)
    return invalid(err, __LINE__, "Expected an invertible, finite source pose");

  const bool tc = prm.tensor_cores;
  const int rb = prm.rays_per_block > 0 ? prm.rays_per_block : nerf_default_rays_per_block(d, tc);
  KParams kp{};
  kp.L = layout_for(d, rb, tc);
  kp.L.gh = prm.cm_h;
  kp.L.gw = prm.cm_w;
  std::memcpy(kp.L.m, M, sizeof kp.L.m);
  for (int l = 0; l < 4; ++l) {
    kp.L.lh[l] = prm.planes->h[l];
    kp.L.lw[l] = prm.planes->w[l];
    kp.planes[l] = prm.planes->level(l);
  }
  for (int i = 0; i < 6; ++i)
    kp.deform[i] = linear_view(W.deform.layer[i], i == 0 ? W.deform.e1_bias.data() : nullptr);
  for (int i = 0; i < 2; ++i) kp.decoder[i] = linear_view(W.decoder.layer[i]);
  kp.cm = prm.cm;
  kp.out = prm.out;

  const size_t smem = sizeof(float) * static_cast<size_t>(kp.L.total);
  int dev = 0, optin = 0;
  S3D_CUDA_CHECK(cudaGetDevice(&dev), err);
  S3D_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), err);
  if (smem > static_cast<size_t>(optin))
    return invalid(err, __LINE__, "the block needs " + std::to_string(smem) +
                                      " bytes of shared memory, the device allows " + std::to_string(optin));

  S3D_CUDA_TRY(deformation_field_fold_code(W.deform, prm.code, stream, err));
  const int blocks = (kp.L.n_rays + rb - 1) / rb;
  if (prm.planes->fp16)
    return tc ? launch<__half, true>(kp, smem, blocks, stream, err)
              : launch<__half, false>(kp, smem, blocks, stream, err);
  return tc ? launch<float, true>(kp, smem, blocks, stream, err) : launch<float, false>(kp, smem, blocks, stream, err);
}

}  // namespace s3d::cuda
