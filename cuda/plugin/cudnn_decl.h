// The cuDNN C API subset the plugin uses (cuDNN 9, libcudnn.so.9), declared
// here so the plugin builds without cuDNN headers and loads it at run time.
// Checked against the real cudnn_graph.h / cudnn.h by check_decls.cc
// (scripts/check-cuda-decls.sh); see cublas_decl.h for the type conventions.
#pragma once
#include <cstddef>

#include <cuda_runtime_api.h>  // cudaStream_t

struct cudnnContext;  // opaque, as in cudnn_graph.h

namespace s3d::cuda::cudnn {

using Handle = ::cudnnContext*;
#if defined(S3D_DECL_REAL_TYPES)
using Status = ::cudnnStatus_t;
#else
using Status = int;
#endif

// cudnnStatus_t (cuDNN 9 numbering: categories of 1000)
inline constexpr int STATUS_SUCCESS = 0;
inline constexpr int STATUS_NOT_INITIALIZED = 1001;
inline constexpr int STATUS_BAD_PARAM = 2000;
inline constexpr int STATUS_NOT_SUPPORTED = 3000;
inline constexpr int STATUS_INTERNAL_ERROR = 4000;
inline constexpr int STATUS_EXECUTION_FAILED = 5000;

using GetVersion = std::size_t (*)();                 // cudnnGetVersion: 9.1.0 -> 90100
using GetCudartVersion = std::size_t (*)();           // cudnnGetCudartVersion
using Create = Status (*)(Handle*);                   // cudnnCreate
using Destroy = Status (*)(Handle);                   // cudnnDestroy
using SetStream = Status (*)(Handle, cudaStream_t);   // cudnnSetStream
using GetErrorString = const char* (*)(Status);       // cudnnGetErrorString

struct Api {
  GetVersion get_version = nullptr;
  GetCudartVersion get_cudart_version = nullptr;
  Create create = nullptr;
  Destroy destroy = nullptr;
  SetStream set_stream = nullptr;
  GetErrorString get_error_string = nullptr;
};

#define S3D_CUDNN_SYMBOLS(X)                      \
  X(cudnnGetVersion, get_version)               \
  X(cudnnGetCudartVersion, get_cudart_version)  \
  X(cudnnCreate, create)                        \
  X(cudnnDestroy, destroy)                      \
  X(cudnnSetStream, set_stream)                 \
  X(cudnnGetErrorString, get_error_string)

}  // namespace s3d::cuda::cudnn
