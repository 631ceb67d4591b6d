// DeviceBuffer<T>: an owning, move-only device allocation of n T's (a small
// tiny-cuda-nn GPUMemory). The destructor frees it, so no return path leaks;
// allocation failures go through the plugin's error path (plugin_internal.h).
//
//   DeviceBuffer<float> buf;
//   S3D_CUDA_ALLOC(buf, ctx, n, err);          // returns the failed status from the caller
//   S3D_CUDA_UPLOAD(buf, host_data, n, err);   // host -> device, waited for
//
// With a context the memory comes from device_alloc: stream-ordered on
// ctx->stream, counted in memory_stats, out-of-memory reported with the
// requested and free bytes (OutOfMemoryError in JS); the context must outlive
// the buffer. With ctx = nullptr it is cudaMalloc / cudaFree, reported the same
// way: for memory made before any context (the probe's self-test) or owned by
// callers without one (tests/cuda/).
//
// Plain C++ (no CUDA keywords): includable from .cc files.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "plugin_internal.h"

namespace s3d::cuda {

template <typename T>
class DeviceBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "device buffers hold plain data");

 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      swap(o);
    }
    return *this;
  }
  ~DeviceBuffer() { reset(); }

  // The factory: *out gets n elements (uninitialised; n = 0 gives an empty
  // buffer). On failure *out is empty and err filled; the status is returned.
  static int32_t create(s3d_cuda_context* ctx, std::size_t n, DeviceBuffer* out, s3d_cuda_error* err,
                        const char* file, int line) {
    out->reset();
    if (n == 0) return S3D_CUDA_OK;
    const std::size_t bytes = n * sizeof(T);
    void* p = nullptr;
    if (ctx) {
      const int32_t st = device_alloc(ctx, bytes, &p, err, file, line);
      if (st != S3D_CUDA_OK) return st;
    } else {
      const cudaError_t e = cudaMalloc(&p, bytes);
      if (e == cudaErrorMemoryAllocation) return fail_out_of_memory(err, "cudaMalloc", bytes, file, line);
      if (e != cudaSuccess) return fail_cuda(err, e, "cudaMalloc", file, line);
    }
    out->ptr_ = static_cast<T*>(p);
    out->n_ = n;
    out->ctx_ = ctx;
    return S3D_CUDA_OK;
  }

  // Copies n <= size() elements from host memory and waits for the copy: on
  // the context's stream for tracked memory (its allocation is ordered
  // there), else a plain cudaMemcpy. S3D_CUDA_UPLOAD names the call site.
  int32_t upload(const T* host, std::size_t n, s3d_cuda_error* err, const char* file, int line) const {
    if (n > n_)
      return fail(err, S3D_CUDA_INTERNAL, "DeviceBuffer::upload", file, line,
                  "DeviceBuffer::upload: " + std::to_string(n) + " elements into a buffer of " + std::to_string(n_));
    if (n == 0) return S3D_CUDA_OK;
    if (ctx_) {
      cudaError_t e = cudaMemcpyAsync(ptr_, host, n * sizeof(T), cudaMemcpyHostToDevice, ctx_->stream);
      if (e != cudaSuccess) return fail_cuda(err, e, "cudaMemcpyAsync", file, line);
      e = cudaStreamSynchronize(ctx_->stream);
      if (e != cudaSuccess) return fail_cuda(err, e, "cudaStreamSynchronize", file, line);
      return S3D_CUDA_OK;
    }
    const cudaError_t e = cudaMemcpy(ptr_, host, n * sizeof(T), cudaMemcpyHostToDevice);
    if (e != cudaSuccess) return fail_cuda(err, e, "cudaMemcpy", file, line);
    return S3D_CUDA_OK;
  }

  // The stream the memory is ordered on: the context's, or the legacy default stream.
  cudaStream_t stream() const { return ctx_ ? ctx_->stream : nullptr; }

  T* data() const { return ptr_; }
  std::size_t size() const { return n_; }
  std::size_t bytes() const { return n_ * sizeof(T); }
  bool empty() const { return n_ == 0; }

  // Frees now (stream-ordered for a tracked buffer). A failing free has no one
  // to report to; a sticky error surfaces at the next checked call.
  void reset() {
    if (ptr_) {
      if (ctx_)
        device_free(ctx_, ptr_, bytes());
      else
        static_cast<void>(cudaFree(ptr_));
    }
    ptr_ = nullptr;
    n_ = 0;
    ctx_ = nullptr;
  }

 private:
  void swap(DeviceBuffer& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(n_, o.n_);
    std::swap(ctx_, o.ctx_);
  }

  T* ptr_ = nullptr;
  std::size_t n_ = 0;
  s3d_cuda_context* ctx_ = nullptr;
};

}  // namespace s3d::cuda

// S3D_CUDA_ALLOC(buffer, ctx, n, err): DeviceBuffer<T>::create into `buffer`,
// returning the failed status from the enclosing function.
#define S3D_CUDA_ALLOC(buffer, ctx, n, err)                                                                  \
  do {                                                                                                       \
    const int32_t s3d_st_ = std::remove_reference_t<decltype(buffer)>::create((ctx), (n), &(buffer), (err), \
                                                                               __FILE__, __LINE__);         \
    if (s3d_st_ != S3D_CUDA_OK) return s3d_st_;                                                             \
  } while (0)

// S3D_CUDA_UPLOAD(buffer, host, n, err): buffer.upload, returning the failed
// status from the enclosing function.
#define S3D_CUDA_UPLOAD(buffer, host, n, err) S3D_CUDA_TRY((buffer).upload((host), (n), (err), __FILE__, __LINE__))
