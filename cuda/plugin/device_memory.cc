// Device memory tracked per context (plugin_internal.h): stream-ordered
// allocations counted in memory_stats (allocated, peak), out-of-memory reported
// with the requested and free bytes. Owned through DeviceBuffer (cuda/device_buffer.cuh).
#include <cuda_runtime_api.h>

#include "plugin_internal.h"

namespace s3d::cuda {

int32_t device_alloc(s3d_cuda_context* ctx, std::size_t bytes, void** out, s3d_cuda_error* err, const char* file,
                     int line) {
  *out = nullptr;
  cudaError_t e = cudaMallocAsync(out, bytes, ctx->stream);
  if (e == cudaErrorMemoryAllocation) return fail_out_of_memory(err, "cudaMallocAsync", bytes, file, line);
  if (e != cudaSuccess) return fail_cuda(err, e, "cudaMallocAsync", file, line);
  ctx->allocated_bytes += bytes;
  if (ctx->allocated_bytes > ctx->peak_bytes) ctx->peak_bytes = ctx->allocated_bytes;
  return S3D_CUDA_OK;
}

void device_free(s3d_cuda_context* ctx, void* p, std::size_t bytes) {
  if (!p) return;
  // No one to report a failing free to (destructors call this); a sticky error
  // surfaces at the context's next checked call.
  static_cast<void>(cudaFreeAsync(p, ctx->stream));
  ctx->allocated_bytes -= bytes < ctx->allocated_bytes ? bytes : ctx->allocated_bytes;
}

}  // namespace s3d::cuda
