// The s3d_cuda plugin's entry point: the s3d_cuda_api table (s3d_cuda_api.h).
// init() probes the CUDA runtime (linked statically), the driver and the
// device (a self-test kernel proves this build has code for its architecture),
// loads cuBLAS/cuDNN (libraries.cc) and reports every reason the CUDA backend
// cannot be used. Engine stages are registered by the kernels (stage_registry.cc);
// any not registered answers S3D_CUDA_NOT_IMPLEMENTED.
#include <cuda_runtime.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "device_buffer.cuh"
#include "plugin_internal.h"

#ifndef S3D_CUDA_VERSION_STRING
#define S3D_CUDA_VERSION_STRING "0.1.0"
#endif
#ifndef S3D_CUDA_ARCHS
#define S3D_CUDA_ARCHS "unknown archs"
#endif
#define S3D_STR2(x) #x
#define S3D_STR(x) S3D_STR2(x)

namespace {

using namespace s3d::cuda;

__global__ void s3d_cuda_selftest(int* out) { out[threadIdx.x] = 3 * static_cast<int>(threadIdx.x) + 1; }

void add_reason(s3d_cuda_probe* p, const std::string& r) {
  if (p->n_reasons < S3D_CUDA_MAX_REASONS) copy_str(p->reasons[p->n_reasons++], S3D_CUDA_REASON_LEN, r);
}

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

int32_t fill_device(int32_t device, s3d_cuda_device_info* out, s3d_cuda_error* err) {
  std::memset(out, 0, sizeof(*out));
  cudaDeviceProp prop;
  S3D_CUDA_CHECK(cudaGetDeviceProperties(&prop, device), err);
  out->ordinal = device;
  out->cc_major = prop.major;
  out->cc_minor = prop.minor;
  out->multiprocessors = prop.multiProcessorCount;
  out->total_bytes = prop.totalGlobalMem;
  copy_str(out->name, sizeof(out->name), prop.name);
  if (cudaDeviceGetPCIBusId(out->pci_bus_id, sizeof(out->pci_bus_id), device) != cudaSuccess) {
    cudaGetLastError();  // informational only: an empty bus id, not an unusable device
    out->pci_bus_id[0] = '\0';
  }
  S3D_CUDA_CHECK(cudaSetDevice(device), err);
  std::size_t free_b = 0, total_b = 0;
  S3D_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b), err);
  out->free_bytes = free_b;
  out->total_bytes = total_b;
  return S3D_CUDA_OK;
}

int32_t selftest(int32_t device, s3d_cuda_error* err) {
  S3D_CUDA_CHECK(cudaSetDevice(device), err);
  DeviceBuffer<int> d;  // before any context: untracked
  S3D_CUDA_ALLOC(d, nullptr, 32, err);
  // A launch or run failure (no code for this architecture) is the kernel's.
  constexpr const char* kSelftest = "s3d_cuda_selftest<<<1,32>>>";
  s3d_cuda_selftest<<<1, 32>>>(d.data());
  S3D_CUDA_CHECK_LAUNCH(kSelftest, err);
  if (const cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess)
    return fail_cuda(err, e, kSelftest, __FILE__, __LINE__);
  int h[32] = {0};
  S3D_CUDA_CHECK(cudaMemcpy(h, d.data(), sizeof(h), cudaMemcpyDeviceToHost), err);
  for (int i = 0; i < 32; ++i)
    if (h[i] != 3 * i + 1)
      return fail(err, S3D_CUDA_INTERNAL, "s3d_cuda_selftest", __FILE__, __LINE__,
                  "the self-test kernel ran but wrote wrong values");
  return S3D_CUDA_OK;
}

std::string stage_list(bool implemented) {
  std::string s;
  for (int i = 0; i < kEngineStageCount; ++i)
    if ((find_stage(kEngineStages[i]) != nullptr) == implemented) s += (s.empty() ? "" : ", ") + std::string(kEngineStages[i]);
  return s;
}

int32_t api_init(int32_t device, s3d_cuda_probe* p, s3d_cuda_error* err) {
  clear(err);
  if (!p) return fail(err, S3D_CUDA_INVALID_ARGUMENT, "init", __FILE__, __LINE__, "init: null probe");
  std::memset(p, 0, sizeof(*p));
  p->device_count = -1;
  p->device.ordinal = device;
  // Both leave 0 when they fail (no driver installed): the probe reports that below.
  if (cudaRuntimeGetVersion(&p->runtime_version) != cudaSuccess) p->runtime_version = 0;
  if (cudaDriverGetVersion(&p->driver_version) != cudaSuccess) p->driver_version = 0;
  cudaGetLastError();

  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  int32_t status = S3D_CUDA_OK;
  if (e != cudaSuccess) {
    cudaGetLastError();
    std::string r = "cudaGetDeviceCount failed: " + cuda_error_text(e);
    if (p->driver_version == 0)
      r += "; no NVIDIA driver is loadable (libcuda.so.1 missing or no GPU exposed to this process/container)";
    else if (p->driver_version < p->runtime_version)
      r += "; the driver supports CUDA " + version_text(p->driver_version) + " but this plugin's runtime is CUDA " +
           version_text(p->runtime_version) + ": update the NVIDIA driver";
    add_reason(p, r);
    status = fail_cuda(err, e, "cudaGetDeviceCount", __FILE__, __LINE__);
  } else {
    p->device_count = count;
    if (count == 0) {
      add_reason(p, "no CUDA-capable device is visible (cudaGetDeviceCount returned 0; check CUDA_VISIBLE_DEVICES)");
      status = fail(err, S3D_CUDA_NO_DEVICE, "cudaGetDeviceCount", __FILE__, __LINE__, "no CUDA-capable device");
    } else if (device < 0 || device >= count) {
      add_reason(p, "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " visible)");
      status = fail(err, S3D_CUDA_INVALID_ARGUMENT, "init", __FILE__, __LINE__, "no such device");
    } else {
      s3d_cuda_error e2;
      if (fill_device(device, &p->device, &e2) != S3D_CUDA_OK) {
        add_reason(p, std::string("device ") + std::to_string(device) + " cannot be queried: " + e2.message);
        status = e2.status;
        if (err) *err = e2;
      } else if (selftest(device, &e2) != S3D_CUDA_OK) {
        add_reason(p, std::string("device ") + std::to_string(device) + " (" + p->device.name + ", sm_" +
                          std::to_string(p->device.cc_major) + std::to_string(p->device.cc_minor) +
                          ") cannot run this plugin's code: " + e2.message + " (built for " S3D_CUDA_ARCHS ")");
        status = e2.status;
        if (err) *err = e2;
      } else {
        p->device_ok = 1;
      }
    }
  }

  const Libraries& L = libraries();
  auto lib = [](s3d_cuda_library_info& dst, const Library& src) {
    dst.found = src.found ? 1 : 0;
    copy_str(dst.path, sizeof(dst.path), src.path);
    copy_str(dst.version, sizeof(dst.version), src.version);
  };
  lib(p->cublas, L.cublas_info);
  lib(p->cudnn, L.cudnn_info);
  for (auto& r : L.reasons) add_reason(p, r);
  if (status == S3D_CUDA_OK && !L.reasons.empty())
    status = fail(err, S3D_CUDA_LIBRARY_MISSING, "dlopen", __FILE__, __LINE__, L.reasons.front());

  p->stages_total = kEngineStageCount;
  p->stages_implemented = implemented_stage_count();
  if (p->stages_implemented < p->stages_total) {
    add_reason(p, "the CUDA engine stages are not implemented in this build (" + std::to_string(p->stages_implemented) +
                      " of " + std::to_string(p->stages_total) + " ported; missing: " + stage_list(false) + ")");
    if (status == S3D_CUDA_OK)
      status = fail(err, S3D_CUDA_NOT_IMPLEMENTED, "init", __FILE__, __LINE__,
                    "the CUDA engine stages are not implemented in this build");
  }
  p->usable = status == S3D_CUDA_OK ? 1 : 0;
  return status;
}

int32_t api_device_info(int32_t device, s3d_cuda_device_info* out, s3d_cuda_error* err) {
  clear(err);
  if (!out) return fail(err, S3D_CUDA_INVALID_ARGUMENT, "device_info", __FILE__, __LINE__, "null output");
  return fill_device(device, out, err);
}

void api_destroy_context(s3d_cuda_context* ctx) {
  if (!ctx) return;
  const Libraries& L = libraries();
  // destroy_context returns nothing (the ABI's rule for teardown): every step
  // is tried even when one fails, and the error is cleared for the next caller.
  static_cast<void>(cudaSetDevice(ctx->device));
  if (ctx->stream) static_cast<void>(cudaStreamSynchronize(ctx->stream));
  if (ctx->cudnn && L.cudnn.destroy) L.cudnn.destroy(ctx->cudnn);
  if (ctx->cublas && L.cublas.destroy) L.cublas.destroy(ctx->cublas);
  if (ctx->stream) static_cast<void>(cudaStreamDestroy(ctx->stream));
  cudaGetLastError();
  delete ctx;
}

int32_t api_create_context(int32_t device, s3d_cuda_context** out, s3d_cuda_error* err) {
  clear(err);
  if (!out) return fail(err, S3D_CUDA_INVALID_ARGUMENT, "create_context", __FILE__, __LINE__, "null output");
  *out = nullptr;
  auto* ctx = new (std::nothrow) s3d_cuda_context();
  if (!ctx) return fail(err, S3D_CUDA_OUT_OF_MEMORY, "new", __FILE__, __LINE__, "host allocation failed");
  ctx->device = device;
  auto bail = [&](int32_t st) {
    api_destroy_context(ctx);
    return st;
  };
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return bail(fail_cuda(err, e, "cudaSetDevice", __FILE__, __LINE__));
  e = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking);
  if (e != cudaSuccess) return bail(fail_cuda(err, e, "cudaStreamCreateWithFlags", __FILE__, __LINE__));
  const Libraries& L = libraries();
  if (L.cublas_info.found) {
    int st = L.cublas.create(&ctx->cublas);
    if (st == 0) st = L.cublas.set_stream(ctx->cublas, ctx->stream);
    if (st != 0)
      return bail(fail(err, st == cublas::STATUS_ALLOC_FAILED ? S3D_CUDA_OUT_OF_MEMORY : S3D_CUDA_CUDA_ERROR,
                       "cublasCreate_v2", __FILE__, __LINE__,
                       std::string("cublasCreate_v2/cublasSetStream_v2: ") + L.cublas.get_status_string(st)));
  }
  if (L.cudnn_info.found) {
    int st = L.cudnn.create(&ctx->cudnn);
    if (st == 0) st = L.cudnn.set_stream(ctx->cudnn, ctx->stream);
    if (st != 0)
      return bail(fail(err, S3D_CUDA_CUDA_ERROR, "cudnnCreate", __FILE__, __LINE__,
                       std::string("cudnnCreate/cudnnSetStream: ") + L.cudnn.get_error_string(st)));
  }
  *out = ctx;
  return S3D_CUDA_OK;
}

int32_t api_memory_stats(s3d_cuda_context* ctx, s3d_cuda_memory_stats* out, s3d_cuda_error* err) {
  clear(err);
  if (!ctx || !out) return fail(err, S3D_CUDA_INVALID_ARGUMENT, "memory_stats", __FILE__, __LINE__, "null argument");
  std::memset(out, 0, sizeof(*out));
  S3D_CUDA_CHECK(cudaSetDevice(ctx->device), err);
  std::size_t free_b = 0, total_b = 0;
  S3D_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b), err);
  out->free_bytes = free_b;
  out->total_bytes = total_b;
  out->allocated_bytes = ctx->allocated_bytes;
  out->peak_bytes = ctx->peak_bytes;
  return S3D_CUDA_OK;
}

int32_t api_stage_count() { return kEngineStageCount; }
const char* api_stage_name(int32_t i) { return i >= 0 && i < kEngineStageCount ? kEngineStages[i] : nullptr; }
int32_t api_stage_implemented(const char* name) { return find_stage(name) != nullptr ? 1 : 0; }

int32_t not_implemented(s3d_cuda_error* err, const char* what, int line) {
  return fail(err, S3D_CUDA_NOT_IMPLEMENTED, what, __FILE__, line,
              std::string(what) + " is not implemented in this build of the s3d_cuda plugin (the CPU engine runs it)");
}

int32_t api_run_stage(s3d_cuda_context* ctx, const char* name, const s3d_cuda_tensor* in, int32_t n_in,
                      s3d_cuda_tensor* out, int32_t n_out, s3d_cuda_error* err) {
  clear(err);
  if (!ctx || !name) return fail(err, S3D_CUDA_INVALID_ARGUMENT, "run_stage", __FILE__, __LINE__, "null argument");
  if (StageFn fn = find_stage(name)) return fn(ctx, in, n_in, out, n_out, err);
  return not_implemented(err, (std::string("stage '") + name + "'").c_str(), __LINE__);
}

int32_t api_encode_identity(s3d_cuda_context*, const s3d_cuda_tensor*, int32_t, s3d_cuda_tensor*, int32_t,
                            s3d_cuda_error* err) {
  clear(err);
  return not_implemented(err, "encode_identity", __LINE__);
}

int32_t api_render_frame(s3d_cuda_context*, const s3d_cuda_tensor*, int32_t, s3d_cuda_tensor*, int32_t,
                         s3d_cuda_error* err) {
  clear(err);
  return not_implemented(err, "render_frame", __LINE__);
}

#define S3D_BUILD_INFO                                                                                          \
  "s3d_cuda " S3D_CUDA_VERSION_STRING " (CUDA " S3D_STR(__CUDACC_VER_MAJOR__) "." S3D_STR(__CUDACC_VER_MINOR__) \
  ", static cudart, " S3D_CUDA_ARCHS ")"

const s3d_cuda_api kApi = {
    sizeof(s3d_cuda_api), S3D_CUDA_API_VERSION, S3D_BUILD_INFO,
    api_init,             api_device_info,      api_create_context, api_destroy_context, api_memory_stats,
    api_stage_count,      api_stage_name,       api_stage_implemented, api_run_stage,    api_encode_identity,
    api_render_frame,
};

}  // namespace

extern "C" S3D_CUDA_EXPORT const s3d_cuda_api* s3d_cuda_get_api(uint32_t api_version) {
  return api_version == S3D_CUDA_API_VERSION ? &kApi : nullptr;
}
