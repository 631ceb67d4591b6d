// Compile-time check of cublas_decl.h / cudnn_decl.h against the real headers.
// Never part of the plugin: scripts/check-cuda-decls.sh compiles it (syntax
// only) on a machine that has the cuBLAS/cuDNN headers, e.g. the include/
// folders of PyTorch's nvidia-cublas-cu12 / nvidia-cudnn-cu12 pip wheels.
// A wrong signature or enum value is a compile error here instead of a crash
// or a silently wrong result at run time.
#include <cublas_v2.h>
#include <cudnn.h>

#include <type_traits>

#define S3D_DECL_REAL_TYPES 1
#include "cublas_decl.h"
#include "cudnn_decl.h"

namespace cb = s3d::cuda::cublas;
namespace dn = s3d::cuda::cudnn;

// Types: the handles and the enums (sizes too, since the plugin passes ints).
static_assert(std::is_same_v<cb::Handle, ::cublasHandle_t>, "cublasHandle_t");
static_assert(std::is_same_v<dn::Handle, ::cudnnHandle_t>, "cudnnHandle_t");
static_assert(sizeof(::cublasStatus_t) == sizeof(int) && sizeof(::cublasOperation_t) == sizeof(int) &&
                  sizeof(::cublasComputeType_t) == sizeof(int) && sizeof(::cublasGemmAlgo_t) == sizeof(int) &&
                  sizeof(::cudnnStatus_t) == sizeof(int),
              "cuBLAS/cuDNN enums are passed as int");

// Every function: decltype(&real) must be exactly the declared pointer type.
#define S3D_CHECK_SYMBOL(ns, sym, member)                                                   \
  static_assert(std::is_same_v<decltype(&::sym), decltype(ns::Api{}.member)>, #sym " signature"); \
  static_assert(std::is_same_v<decltype(::sym), std::remove_pointer_t<decltype(ns::Api{}.member)>>, #sym);
#define S3D_CHECK_CUBLAS(sym, member) S3D_CHECK_SYMBOL(cb, sym, member)
#define S3D_CHECK_CUDNN(sym, member) S3D_CHECK_SYMBOL(dn, sym, member)
S3D_CUBLAS_SYMBOLS(S3D_CHECK_CUBLAS)
S3D_CUDNN_SYMBOLS(S3D_CHECK_CUDNN)

// Enum values.
#define S3D_CHECK_VALUE(mine, real) static_assert(static_cast<long long>(mine) == static_cast<long long>(real), #real);
S3D_CHECK_VALUE(cb::STATUS_SUCCESS, CUBLAS_STATUS_SUCCESS)
S3D_CHECK_VALUE(cb::STATUS_NOT_INITIALIZED, CUBLAS_STATUS_NOT_INITIALIZED)
S3D_CHECK_VALUE(cb::STATUS_ALLOC_FAILED, CUBLAS_STATUS_ALLOC_FAILED)
S3D_CHECK_VALUE(cb::STATUS_INVALID_VALUE, CUBLAS_STATUS_INVALID_VALUE)
S3D_CHECK_VALUE(cb::STATUS_ARCH_MISMATCH, CUBLAS_STATUS_ARCH_MISMATCH)
S3D_CHECK_VALUE(cb::STATUS_MAPPING_ERROR, CUBLAS_STATUS_MAPPING_ERROR)
S3D_CHECK_VALUE(cb::STATUS_EXECUTION_FAILED, CUBLAS_STATUS_EXECUTION_FAILED)
S3D_CHECK_VALUE(cb::STATUS_INTERNAL_ERROR, CUBLAS_STATUS_INTERNAL_ERROR)
S3D_CHECK_VALUE(cb::STATUS_NOT_SUPPORTED, CUBLAS_STATUS_NOT_SUPPORTED)
S3D_CHECK_VALUE(cb::OP_N, CUBLAS_OP_N)
S3D_CHECK_VALUE(cb::OP_T, CUBLAS_OP_T)
S3D_CHECK_VALUE(cb::COMPUTE_16F, CUBLAS_COMPUTE_16F)
S3D_CHECK_VALUE(cb::COMPUTE_32F, CUBLAS_COMPUTE_32F)
S3D_CHECK_VALUE(cb::COMPUTE_32F_FAST_16F, CUBLAS_COMPUTE_32F_FAST_16F)
S3D_CHECK_VALUE(cb::COMPUTE_32F_FAST_16BF, CUBLAS_COMPUTE_32F_FAST_16BF)
S3D_CHECK_VALUE(cb::COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32F_FAST_TF32)
S3D_CHECK_VALUE(cb::GEMM_DEFAULT, CUBLAS_GEMM_DEFAULT)
S3D_CHECK_VALUE(cb::GEMM_DEFAULT_TENSOR_OP, CUBLAS_GEMM_DEFAULT_TENSOR_OP)
S3D_CHECK_VALUE(dn::STATUS_SUCCESS, CUDNN_STATUS_SUCCESS)
S3D_CHECK_VALUE(dn::STATUS_NOT_INITIALIZED, CUDNN_STATUS_NOT_INITIALIZED)
S3D_CHECK_VALUE(dn::STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM)
S3D_CHECK_VALUE(dn::STATUS_NOT_SUPPORTED, CUDNN_STATUS_NOT_SUPPORTED)
S3D_CHECK_VALUE(dn::STATUS_INTERNAL_ERROR, CUDNN_STATUS_INTERNAL_ERROR)
S3D_CHECK_VALUE(dn::STATUS_EXECUTION_FAILED, CUDNN_STATUS_EXECUTION_FAILED)
static_assert(CUDNN_MAJOR >= 9, "cudnn_decl.h declares the cuDNN 9 API (status numbering, libcudnn.so.9)");

int main() { return 0; }
