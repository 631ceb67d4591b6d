// The cuBLAS C API subset the plugin uses, declared here so the plugin builds
// without cuBLAS headers and loads libcublas at run time (dlopen, never linked).
// Every declaration is checked against the real cublas_api.h by
// cuda/plugin/check_decls.cc (scripts/check-cuda-decls.sh), so a wrong
// signature or enum value fails a build, not a render.
//
// Types: handles are the real opaque struct pointers (same tag names as
// cublas_api.h, so both can be in one translation unit); enums are plain ints
// at the ABI (a C enum is int-sized), except when S3D_DECL_REAL_TYPES is set
// (check_decls.cc), where they alias the real enum types so decltype() of the
// real functions can be compared with these pointer types exactly.
#pragma once
#include <cstddef>

#include <cuda_runtime_api.h>  // cudaStream_t (cudart, always available with nvcc)
#include <library_types.h>     // cudaDataType, libraryPropertyType (ships with cudart)

struct cublasContext;  // opaque, as in cublas_api.h

namespace s3d::cuda::cublas {

using Handle = ::cublasContext*;
#if defined(S3D_DECL_REAL_TYPES)
using Status = ::cublasStatus_t;
using Operation = ::cublasOperation_t;
using ComputeType = ::cublasComputeType_t;
using GemmAlgo = ::cublasGemmAlgo_t;
#else
using Status = int;
using Operation = int;
using ComputeType = int;
using GemmAlgo = int;
#endif

// cublasStatus_t
inline constexpr int STATUS_SUCCESS = 0;
inline constexpr int STATUS_NOT_INITIALIZED = 1;
inline constexpr int STATUS_ALLOC_FAILED = 3;
inline constexpr int STATUS_INVALID_VALUE = 7;
inline constexpr int STATUS_ARCH_MISMATCH = 8;
inline constexpr int STATUS_MAPPING_ERROR = 11;
inline constexpr int STATUS_EXECUTION_FAILED = 13;
inline constexpr int STATUS_INTERNAL_ERROR = 14;
inline constexpr int STATUS_NOT_SUPPORTED = 15;
// cublasOperation_t
inline constexpr int OP_N = 0;
inline constexpr int OP_T = 1;
// cublasComputeType_t
inline constexpr int COMPUTE_16F = 64;
inline constexpr int COMPUTE_32F = 68;
inline constexpr int COMPUTE_32F_FAST_16F = 74;
inline constexpr int COMPUTE_32F_FAST_16BF = 75;
inline constexpr int COMPUTE_32F_FAST_TF32 = 77;
// cublasGemmAlgo_t
inline constexpr int GEMM_DEFAULT = -1;
inline constexpr int GEMM_DEFAULT_TENSOR_OP = 99;

// Function pointer types, exactly the real signatures (exported names in comments).
using Create = Status (*)(Handle*);                                  // cublasCreate_v2
using Destroy = Status (*)(Handle);                                  // cublasDestroy_v2
using SetStream = Status (*)(Handle, cudaStream_t);                  // cublasSetStream_v2
using GetVersion = Status (*)(Handle, int*);                         // cublasGetVersion_v2
using GetProperty = Status (*)(libraryPropertyType, int*);           // cublasGetProperty
using GetStatusString = const char* (*)(Status);                     // cublasGetStatusString
using GetCudartVersion = std::size_t (*)();                          // cublasGetCudartVersion
using Sgemm = Status (*)(Handle, Operation, Operation, int, int, int, const float*, const float*, int,
                         const float*, int, const float*, float*, int);  // cublasSgemm_v2
using GemmEx = Status (*)(Handle, Operation, Operation, int, int, int, const void*, const void*, cudaDataType,
                          int, const void*, cudaDataType, int, const void*, void*, cudaDataType, int,
                          ComputeType, GemmAlgo);  // cublasGemmEx

// The loaded entry points (cuda/plugin/libraries.cc fills it with dlsym).
struct Api {
  Create create = nullptr;
  Destroy destroy = nullptr;
  SetStream set_stream = nullptr;
  GetVersion get_version = nullptr;
  GetProperty get_property = nullptr;
  GetStatusString get_status_string = nullptr;
  GetCudartVersion get_cudart_version = nullptr;
  Sgemm sgemm = nullptr;
  GemmEx gemm_ex = nullptr;
};

// X(exported symbol, Api member): one table for dlsym (libraries.cc) and for check_decls.cc.
#define S3D_CUBLAS_SYMBOLS(X)                      \
  X(cublasCreate_v2, create)                     \
  X(cublasDestroy_v2, destroy)                   \
  X(cublasSetStream_v2, set_stream)              \
  X(cublasGetVersion_v2, get_version)            \
  X(cublasGetProperty, get_property)             \
  X(cublasGetStatusString, get_status_string)    \
  X(cublasGetCudartVersion, get_cudart_version)  \
  X(cublasSgemm_v2, sgemm)                       \
  X(cublasGemmEx, gemm_ex)

}  // namespace s3d::cuda::cublas
