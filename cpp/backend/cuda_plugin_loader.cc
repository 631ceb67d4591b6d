#include "backend/cuda_plugin_loader.h"

#if defined(__linux__)
#include <dlfcn.h>
#include <sys/stat.h>
#endif

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

namespace s3d::backend {

namespace {

const s3d_cuda_api* g_api = nullptr;

#if defined(__linux__)
constexpr const char* kPluginFile = "libs3d_cuda.so";

// The folder of the loaded .node file (the plugin ships next to it: build/Release/
// or prebuilds/<platform>-<arch>/).
std::string addon_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&cuda_probe), &info) == 0 || !info.dli_fname) return "";
  std::string f = info.dli_fname;
  std::size_t slash = f.rfind('/');
  return slash == std::string::npos ? std::string(".") : f.substr(0, slash);
}

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

std::string ver(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }
#endif

CudaProbe probe_once() {
  CudaProbe p;
#if !defined(__linux__)
  p.reasons.push_back("the CUDA plugin is built for Linux only");
  return p;
#else
  const char* override_path = std::getenv("S3D_CUDA_PLUGIN");
  const std::string dir = addon_dir();
  p.plugin_path = override_path && *override_path ? std::string(override_path) : dir + "/" + kPluginFile;
  if (!exists(p.plugin_path)) {
    if (override_path && *override_path)
      p.reasons.push_back("the CUDA plugin named by S3D_CUDA_PLUGIN does not exist: " + p.plugin_path);
    else
      p.reasons.push_back("the CUDA plugin (" + std::string(kPluginFile) + ") is not part of this build: not found next to the addon in " +
                          dir + " (make it with `npm run build:cuda`, which needs nvcc)");
    return p;
  }
  dlerror();
  void* h = dlopen(p.plugin_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    p.reasons.push_back("the CUDA plugin " + p.plugin_path + " failed to load: " + (e ? e : "dlopen failed"));
    return p;
  }
  auto get = reinterpret_cast<s3d_cuda_get_api_fn>(dlsym(h, S3D_CUDA_ENTRY_POINT));
  if (!get) {
    p.reasons.push_back("the CUDA plugin " + p.plugin_path + " does not export " S3D_CUDA_ENTRY_POINT " (not an s3d_cuda plugin?)");
    return p;  // the handle stays open: unloading CUDA code is never worth the risk
  }
  const s3d_cuda_api* api = get(S3D_CUDA_API_VERSION);
  if (!api || api->api_version != S3D_CUDA_API_VERSION || api->struct_size < sizeof(s3d_cuda_api)) {
    p.reasons.push_back("the CUDA plugin " + p.plugin_path + " implements another ABI than this addon (API version " +
                        std::to_string(S3D_CUDA_API_VERSION) + " wanted): rebuild it with `npm run build:cuda`");
    return p;
  }
  g_api = api;
  p.plugin_loaded = true;
  p.api_version = api->api_version;
  p.build_info = api->build_info ? api->build_info : "";

  auto probe = std::make_unique<s3d_cuda_probe>();
  s3d_cuda_error err{};
  api->init(0, probe.get(), &err);
  p.runtime_version = probe->runtime_version;
  p.driver_version = probe->driver_version;
  p.device_count = probe->device_count;
  p.device_ok = probe->device_ok != 0;
  p.device = probe->device;
  p.cublas = {probe->cublas.found != 0, probe->cublas.path, probe->cublas.version};
  p.cudnn = {probe->cudnn.found != 0, probe->cudnn.path, probe->cudnn.version};
  p.stages_implemented = probe->stages_implemented;
  p.stages_total = probe->stages_total;
  p.usable = probe->usable != 0;
  if (p.device_ok) {
    // Say what was found before what is missing: "plugin loaded, device X found, but ...".
    p.reasons.push_back("the CUDA plugin loaded (" + p.build_info + ") and found device 0: " + p.device.name + " (sm_" +
                        std::to_string(p.device.cc_major) + std::to_string(p.device.cc_minor) + ", " +
                        std::to_string(p.device.total_bytes >> 20) + " MiB; driver CUDA " + ver(p.driver_version) + ")");
  }
  for (int i = 0; i < probe->n_reasons && i < S3D_CUDA_MAX_REASONS; ++i)
    p.reasons.emplace_back(probe->reasons[i], strnlen(probe->reasons[i], S3D_CUDA_REASON_LEN));
  if (p.usable) p.reasons.clear();
  else if (p.reasons.empty()) p.reasons.push_back(std::string("the CUDA plugin's init failed: ") + err.message);
  return p;
#endif
}

ErrorCode code_of(int32_t status) {
  switch (status) {
    case S3D_CUDA_OUT_OF_MEMORY: return ErrorCode::OutOfMemory;
    case S3D_CUDA_NOT_IMPLEMENTED: return ErrorCode::NotImplemented;
    case S3D_CUDA_NO_DEVICE:
    case S3D_CUDA_LIBRARY_MISSING: return ErrorCode::BackendUnavailable;
    case S3D_CUDA_INVALID_ARGUMENT: return ErrorCode::InvalidArgument;
    default: return ErrorCode::Internal;
  }
}

std::string describe(const s3d_cuda_error& e) {
  std::string msg(e.message, strnlen(e.message, sizeof(e.message)));
  std::string call(e.call, strnlen(e.call, sizeof(e.call)));
  std::string file(e.file, strnlen(e.file, sizeof(e.file)));
  return "CUDA plugin: " + (msg.empty() ? std::string("error ") + std::to_string(e.status) : msg) + " [" +
         (call.empty() ? "?" : call) + " at " + (file.empty() ? "?" : file) + ":" + std::to_string(e.line) + "]";
}

}  // namespace

const CudaProbe& cuda_probe() {
  static std::once_flag once;
  static CudaProbe probe;
  std::call_once(once, [] { probe = probe_once(); });
  return probe;
}

const s3d_cuda_api* cuda_api() {
  cuda_probe();
  return g_api;
}

CudaPluginError::CudaPluginError(const s3d_cuda_error& e)
    : Error(code_of(e.status), describe(e)),
      call_(e.call, strnlen(e.call, sizeof(e.call))),
      file_(e.file, strnlen(e.file, sizeof(e.file))),
      line_(e.line),
      requested_(e.requested_bytes),
      free_(e.free_bytes) {}

void check_plugin(int32_t status, const s3d_cuda_error& err) {
  if (status == S3D_CUDA_OK) return;
  s3d_cuda_error e = err;
  if (e.status == S3D_CUDA_OK) e.status = status;
  throw CudaPluginError(e);
}

s3d_cuda_memory_stats cuda_context_check() {
  const s3d_cuda_api* api = cuda_api();
  if (!api) throw Error(ErrorCode::BackendUnavailable, "the CUDA plugin is not loaded: " + cuda_probe().reasons.front());
  s3d_cuda_error err{};
  s3d_cuda_context* ctx = nullptr;
  check_plugin(api->create_context(0, &ctx, &err), err);
  s3d_cuda_memory_stats stats{};
  int32_t st = api->memory_stats(ctx, &stats, &err);
  api->destroy_context(ctx);
  check_plugin(st, err);
  return stats;
}

}  // namespace s3d::backend
