// The optional CUDA plugin (libs3d_cuda.so, cuda/plugin/), loaded on demand.
// The addon links no CUDA library: this file dlopens the plugin from the
// addon's own folder (found with dladdr) and asks it to probe the driver, the
// device and cuBLAS/cuDNN. Every reason CUDA cannot be used is collected, in
// order, for the API (BackendUnavailableError.reasons, the S3D_CUDA_FALLBACK
// warning) and for `s3d-nerf doctor`. No N-API here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "s3d_cuda_api.h"

namespace s3d::backend {

struct CudaLibraryInfo {
  bool found = false;
  std::string path, version;
};

struct CudaProbe {
  std::string plugin_path;       // where the plugin was looked for / loaded from
  bool plugin_loaded = false;
  std::string build_info;        // the plugin's own description (archs, CUDA version)
  uint32_t api_version = 0;
  int runtime_version = 0;       // e.g. 13000
  int driver_version = 0;        // 0: no driver
  int device_count = -1;         // -1: unknown (cudaGetDeviceCount failed or no plugin)
  bool device_ok = false;        // the self-test kernel ran
  s3d_cuda_device_info device{};
  CudaLibraryInfo cublas, cudnn;
  int stages_implemented = 0, stages_total = 0;
  bool usable = false;
  std::vector<std::string> reasons;  // every reason it is not usable (empty when usable)
};

// Loads the plugin and probes once per process (thread-safe); later calls return the same.
const CudaProbe& cuda_probe();

// The plugin's table when it loaded, else null (after cuda_probe()).
const s3d_cuda_api* cuda_api();

// A failed plugin call as a C++ exception: code from the status, and where it failed.
class CudaPluginError : public Error {
 public:
  explicit CudaPluginError(const s3d_cuda_error& e);
  const std::string& call() const { return call_; }
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  uint64_t requested_bytes() const { return requested_; }
  uint64_t free_bytes() const { return free_; }

 private:
  std::string call_, file_;
  int line_ = 0;
  uint64_t requested_ = 0, free_ = 0;
};

// Throws CudaPluginError unless status is S3D_CUDA_OK.
void check_plugin(int32_t status, const s3d_cuda_error& err);

// Creates a context on device 0 (stream + cuBLAS/cuDNN handles), reads its
// memory stats and destroys it: proves the plugin's calls work end to end.
// Throws BackendUnavailable when the plugin is not loaded, CudaPluginError on failure.
s3d_cuda_memory_stats cuda_context_check();

}  // namespace s3d::backend
