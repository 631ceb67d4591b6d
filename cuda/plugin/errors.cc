// The plugin's error path (plugin_internal.h): every failure becomes a status
// plus an s3d_cuda_error naming the call, the plugin source file and line, and
// for out-of-memory the requested and free bytes, which the addon turns into
// the JS errors (OutOfMemoryError with requestedBytes/freeBytes).
#include <cuda_runtime_api.h>

#include <cstring>
#include <string>

#include "plugin_internal.h"

namespace s3d::cuda {

void copy_str(char* dst, std::size_t cap, const std::string& s) {
  if (!dst || cap == 0) return;
  std::size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
  std::memcpy(dst, s.data(), n);
  dst[n] = '\0';
}

void clear(s3d_cuda_error* err) {
  if (err) std::memset(err, 0, sizeof(*err));
}

static std::string short_file(const char* file) {
  std::string f = file ? file : "";
  std::size_t p = f.rfind("/cuda/");
  if (p != std::string::npos) return f.substr(p + 1);
  return f;
}

int32_t fail(s3d_cuda_error* err, s3d_cuda_status status, const char* call, const char* file, int line,
             const std::string& message) {
  if (err) {
    clear(err);
    err->status = status;
    err->line = line;
    copy_str(err->call, sizeof(err->call), call ? call : "");
    copy_str(err->file, sizeof(err->file), short_file(file));
    copy_str(err->message, sizeof(err->message), message);
  }
  return status;
}

std::string cuda_error_text(cudaError_t e) {
  return std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")";
}

int32_t fail_cuda(s3d_cuda_error* err, cudaError_t e, const char* call, const char* file, int line) {
  std::string c = call ? call : "";
  std::size_t paren = c.find('(');
  std::string name = paren == std::string::npos ? c : c.substr(0, paren);
  s3d_cuda_status st = e == cudaErrorMemoryAllocation ? S3D_CUDA_OUT_OF_MEMORY
                       : (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) ? S3D_CUDA_NO_DEVICE
                                                                                      : S3D_CUDA_CUDA_ERROR;
  cudaGetLastError();  // clear a sticky-free error so the next call starts clean
  return fail(err, st, name.c_str(), file, line, name + ": " + cuda_error_text(e));
}

int32_t fail_out_of_memory(s3d_cuda_error* err, const char* call, std::size_t bytes, const char* file, int line) {
  cudaGetLastError();  // the allocation error is not sticky; clear it
  std::size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    cudaGetLastError();  // best effort: report 0 free bytes rather than a second error
    free_b = total_b = 0;
  }
  fail(err, S3D_CUDA_OUT_OF_MEMORY, call, file, line,
       std::string(call) + ": out of device memory allocating " + std::to_string(bytes) + " bytes (" +
           std::to_string(free_b) + " of " + std::to_string(total_b) + " bytes free)");
  if (err) {
    err->requested_bytes = bytes;
    err->free_bytes = free_b;
  }
  return S3D_CUDA_OUT_OF_MEMORY;
}

}  // namespace s3d::cuda
