// Inside the s3d_cuda plugin: error helpers, the context, the run-time loaded
// libraries and the stage registry. Kernels (cuda/*.cu) include this to get a
// stream, cuBLAS/cuDNN handles, the error path and tracked device memory, and
// register the engine stages they implement with S3D_CUDA_STAGE (see
// stage_registry.cc). Plain C++: g++ compiles the .cc files that include it.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cublas_decl.h"
#include "cudnn_decl.h"
#include "s3d_cuda_api.h"

struct s3d_cuda_context {
  int device = 0;
  cudaStream_t stream = nullptr;
  s3d::cuda::cublas::Handle cublas = nullptr;  // null when cuBLAS is not loaded
  s3d::cuda::cudnn::Handle cudnn = nullptr;    // null when cuDNN is not loaded
  uint64_t allocated_bytes = 0;
  uint64_t peak_bytes = 0;
};

namespace s3d::cuda {

// --- errors (errors.cc) -----------------------------------------------------
// Fills err (may be null) and returns status. file is shortened to "cuda/...".
int32_t fail(s3d_cuda_error* err, s3d_cuda_status status, const char* call, const char* file, int line,
             const std::string& message);
// A cudaError_t as a status + message ("cudaMalloc: out of memory (cudaErrorMemoryAllocation)").
int32_t fail_cuda(s3d_cuda_error* err, cudaError_t e, const char* call, const char* file, int line);
// An allocation of `bytes` that failed for lack of memory: S3D_CUDA_OUT_OF_MEMORY with the
// requested and (cudaMemGetInfo) free bytes, which JS reports as OutOfMemoryError.
int32_t fail_out_of_memory(s3d_cuda_error* err, const char* call, std::size_t bytes, const char* file, int line);
std::string cuda_error_text(cudaError_t e);  // "out of memory (cudaErrorMemoryAllocation)"
void clear(s3d_cuda_error* err);
void copy_str(char* dst, std::size_t cap, const std::string& s);

// Every CUDA runtime call: S3D_CUDA_CHECK(cudaMemcpy(...), err) returns the
// status, naming the call, file and line.
#define S3D_CUDA_CHECK(expr, err)                                              \
  do {                                                                         \
    cudaError_t s3d_e_ = (expr);                                               \
    if (s3d_e_ != cudaSuccess) return ::s3d::cuda::fail_cuda(err, s3d_e_, #expr, __FILE__, __LINE__); \
  } while (0)

// Right after every kernel launch: a launch error (bad configuration, no code
// for this GPU) is reported under the kernel's name.
#define S3D_CUDA_CHECK_LAUNCH(kernel_name, err)                                \
  do {                                                                         \
    cudaError_t s3d_e_ = cudaGetLastError();                                   \
    if (s3d_e_ != cudaSuccess) return ::s3d::cuda::fail_cuda(err, s3d_e_, kernel_name, __FILE__, __LINE__); \
  } while (0)

// Forwards a failed status (already in err) from a call of the plugin's own.
#define S3D_CUDA_TRY(expr)                                                     \
  do {                                                                         \
    const int32_t s3d_st_ = (expr);                                            \
    if (s3d_st_ != S3D_CUDA_OK) return s3d_st_;                                \
  } while (0)

// --- run-time loaded libraries (libraries.cc) --------------------------------
struct Library {
  bool found = false;
  std::string path;     // loaded file or soname
  std::string version;  // "12.4.5"
};
struct Libraries {
  cublas::Api cublas;
  cudnn::Api cudnn;
  Library cublas_info, cudnn_info;
  std::vector<std::string> reasons;  // every reason a library is missing or unusable
};
// Loads cuBLAS and cuDNN once (thread-safe) with the documented search order.
const Libraries& libraries();

// --- device memory tracked per context (device_memory.cc) ---------------------
// Stream-ordered on ctx->stream, counted in memory_stats; OOM carries requested/free
// bytes. Own the result with DeviceBuffer (cuda/device_buffer.cuh), not by hand.
int32_t device_alloc(s3d_cuda_context* ctx, std::size_t bytes, void** out, s3d_cuda_error* err, const char* file,
                     int line);
void device_free(s3d_cuda_context* ctx, void* p, std::size_t bytes);

// --- stage registry (stage_registry.cc) -----------------------------------
using StageFn = int32_t (*)(s3d_cuda_context* ctx, const s3d_cuda_tensor* inputs, int32_t n_inputs,
                            s3d_cuda_tensor* outputs, int32_t n_outputs, s3d_cuda_error* err);
// The engine's stages (cpp/model/engine.cc run_stage names = fixture stage names).
extern const char* const kEngineStages[];
extern const int kEngineStageCount;
struct StageRegistrar {
  StageRegistrar(const char* name, StageFn fn);
};
StageFn find_stage(const char* name);
int implemented_stage_count();

}  // namespace s3d::cuda

// In a kernel's .cu file, at namespace scope:  S3D_CUDA_STAGE("nerf_renderer", run_nerf_renderer);
#define S3D_CUDA_STAGE(name, fn) static ::s3d::cuda::StageRegistrar s3d_cuda_stage_##fn(name, fn)
