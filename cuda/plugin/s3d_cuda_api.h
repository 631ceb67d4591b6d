/* s3d_cuda_api.h: the C ABI between the s3d_nerf addon and the s3d_cuda plugin.
 *
 * The plugin (libs3d_cuda.so, built from cuda/ by `npm run build:cuda` or
 * CMake, cudart linked statically) exports ONE symbol, s3d_cuda_get_api(),
 * returning a versioned table of function pointers. The addon dlopens the
 * plugin on demand (cpp/backend/cuda_plugin_loader.cc) and links no CUDA
 * library itself, so the CPU path never depends on anything here.
 *
 * Rules of the ABI:
 *  - plain C types only, fixed-size char buffers, no C++ exceptions across it:
 *    every call returns an s3d_cuda_status and fills an s3d_cuda_error on failure;
 *  - S3D_CUDA_API_VERSION changes whenever a field or function is changed or
 *    removed; the addon refuses a plugin whose api_version differs, and checks
 *    struct_size >= sizeof(s3d_cuda_api) it was compiled with;
 *  - engine stages not yet ported return S3D_CUDA_NOT_IMPLEMENTED with a
 *    message naming the stage (see cuda/plugin/stage_registry.h for how a
 *    kernel registers a stage).
 */
#ifndef S3D_CUDA_API_H
#define S3D_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define S3D_CUDA_API_VERSION 1u
#define S3D_CUDA_ENTRY_POINT "s3d_cuda_get_api"

#if defined(_WIN32)
#define S3D_CUDA_EXPORT __declspec(dllexport)
#else
#define S3D_CUDA_EXPORT __attribute__((visibility("default")))
#endif

typedef enum s3d_cuda_status {
  S3D_CUDA_OK = 0,
  S3D_CUDA_NO_DEVICE = 1,         /* no usable CUDA device (driver missing/too old, none visible) */
  S3D_CUDA_LIBRARY_MISSING = 2,   /* cuBLAS / cuDNN could not be loaded */
  S3D_CUDA_NOT_IMPLEMENTED = 3,   /* the engine stage is not ported to CUDA in this build */
  S3D_CUDA_OUT_OF_MEMORY = 4,     /* device allocation failed: see requested/free bytes */
  S3D_CUDA_INVALID_ARGUMENT = 5,
  S3D_CUDA_CUDA_ERROR = 6,        /* any other CUDA runtime / library error */
  S3D_CUDA_INTERNAL = 7
} s3d_cuda_status;

/* Filled by a failing call: what failed, where (plugin source file and line). */
typedef struct s3d_cuda_error {
  int32_t status;          /* s3d_cuda_status */
  int32_t line;
  char call[96];           /* e.g. "cudaMalloc", "cublasCreate_v2" */
  char file[160];          /* e.g. "cuda/plugin/device.cu" */
  char message[768];
  uint64_t requested_bytes; /* S3D_CUDA_OUT_OF_MEMORY: the allocation that failed */
  uint64_t free_bytes;      /* S3D_CUDA_OUT_OF_MEMORY: cudaMemGetInfo free at that moment */
} s3d_cuda_error;

typedef struct s3d_cuda_device_info {
  int32_t ordinal;
  int32_t cc_major, cc_minor;
  int32_t multiprocessors;
  uint64_t total_bytes, free_bytes;
  char name[256];
  char pci_bus_id[32];
} s3d_cuda_device_info;

typedef struct s3d_cuda_library_info {
  int32_t found;           /* 1 when dlopen succeeded */
  char path[1024];         /* the file (or soname) that was loaded */
  char version[64];        /* "12.4.5" (cuBLAS), "9.1.0" (cuDNN); "" when unknown */
} s3d_cuda_library_info;

#define S3D_CUDA_MAX_REASONS 24
#define S3D_CUDA_REASON_LEN 768

/* Result of init(): everything the plugin found, and every reason it is not usable. */
typedef struct s3d_cuda_probe {
  int32_t runtime_version;   /* cudaRuntimeGetVersion, e.g. 13000; the static cudart in the plugin */
  int32_t driver_version;    /* cudaDriverGetVersion; 0 when no driver */
  int32_t device_count;      /* -1 when cudaGetDeviceCount failed */
  int32_t device_ok;         /* 1 when a self-test kernel ran on `device` */
  s3d_cuda_device_info device;
  s3d_cuda_library_info cublas;
  s3d_cuda_library_info cudnn;
  int32_t stages_implemented; /* engine stages with a CUDA implementation in this build */
  int32_t stages_total;
  int32_t usable;             /* 1 only when the device works and every stage is implemented */
  int32_t n_reasons;
  char reasons[S3D_CUDA_MAX_REASONS][S3D_CUDA_REASON_LEN];
} s3d_cuda_probe;

typedef struct s3d_cuda_memory_stats {
  uint64_t free_bytes, total_bytes;   /* cudaMemGetInfo */
  uint64_t allocated_bytes, peak_bytes; /* by this context */
} s3d_cuda_memory_stats;

/* Host tensors crossing the ABI (row-major float32, like cpp/core/tensor.h). */
typedef struct s3d_cuda_tensor {
  const char* name;
  int32_t ndim;
  int64_t shape[8];
  float* data;
} s3d_cuda_tensor;

typedef struct s3d_cuda_context s3d_cuda_context; /* one device + stream + cuBLAS/cuDNN handles */

typedef struct s3d_cuda_api {
  uint32_t struct_size;  /* sizeof(s3d_cuda_api) in the plugin */
  uint32_t api_version;  /* S3D_CUDA_API_VERSION of the plugin */
  const char* build_info; /* "s3d_cuda 0.1.0 (CUDA 13.0, sm_75 ... + compute_90 PTX)" */

  /* Probes the runtime, driver, `device` (runs a self-test kernel) and loads
   * cuBLAS/cuDNN; fills `out` (always, even on failure) and returns OK only when
   * out->usable. Safe to call more than once. */
  int32_t (*init)(int32_t device, s3d_cuda_probe* out, s3d_cuda_error* err);
  int32_t (*device_info)(int32_t device, s3d_cuda_device_info* out, s3d_cuda_error* err);

  int32_t (*create_context)(int32_t device, s3d_cuda_context** out, s3d_cuda_error* err);
  void (*destroy_context)(s3d_cuda_context* ctx);
  int32_t (*memory_stats)(s3d_cuda_context* ctx, s3d_cuda_memory_stats* out, s3d_cuda_error* err);

  /* Engine stages (names as in cpp/model/stages_*.cc run_stage). */
  int32_t (*stage_count)(void);
  const char* (*stage_name)(int32_t index);
  int32_t (*stage_implemented)(const char* name);
  int32_t (*run_stage)(s3d_cuda_context* ctx, const char* name, const s3d_cuda_tensor* inputs, int32_t n_inputs,
                       s3d_cuda_tensor* outputs, int32_t n_outputs, s3d_cuda_error* err);
  /* Whole phases (DESIGN §1); NOT_IMPLEMENTED until every stage they use is ported. */
  int32_t (*encode_identity)(s3d_cuda_context* ctx, const s3d_cuda_tensor* inputs, int32_t n_inputs,
                             s3d_cuda_tensor* outputs, int32_t n_outputs, s3d_cuda_error* err);
  int32_t (*render_frame)(s3d_cuda_context* ctx, const s3d_cuda_tensor* inputs, int32_t n_inputs,
                          s3d_cuda_tensor* outputs, int32_t n_outputs, s3d_cuda_error* err);
} s3d_cuda_api;

typedef const s3d_cuda_api* (*s3d_cuda_get_api_fn)(uint32_t api_version);

/* Returns the table, or NULL when api_version is not the one this plugin implements. */
S3D_CUDA_EXPORT const s3d_cuda_api* s3d_cuda_get_api(uint32_t api_version);

#ifdef __cplusplus
}
#endif
#endif /* S3D_CUDA_API_H */
