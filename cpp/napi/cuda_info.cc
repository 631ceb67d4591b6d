#include "napi/cuda_info.h"

#include <memory>

#include "backend/cuda_plugin_loader.h"
#include "napi/async_work.h"

namespace s3d::napi {

static Napi::Object library(Napi::Env env, const backend::CudaLibraryInfo& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("found", l.found);
  o.Set("path", l.found ? Napi::Value(Napi::String::New(env, l.path)) : env.Null());
  o.Set("version", l.version.empty() ? env.Null() : Napi::Value(Napi::String::New(env, l.version)));
  return o;
}

// cudaProbe(): Promise<NativeCudaProbe> (ts/native.ts). Never rejects for a
// missing plugin/driver/device: those are reasons.
static Napi::Value CudaProbe(const Napi::CallbackInfo& info) {
  return PromiseWorker::Start(
      info.Env(), "s3d.cudaProbe", [] { backend::cuda_probe(); },
      [](Napi::Env env) -> Napi::Value {
        const backend::CudaProbe& p = backend::cuda_probe();
        Napi::Object o = Napi::Object::New(env);
        o.Set("pluginPath", p.plugin_path.empty() ? env.Null() : Napi::Value(Napi::String::New(env, p.plugin_path)));
        o.Set("pluginLoaded", p.plugin_loaded);
        o.Set("buildInfo", p.build_info.empty() ? env.Null() : Napi::Value(Napi::String::New(env, p.build_info)));
        o.Set("apiVersion", p.api_version);
        o.Set("runtimeVersion", p.runtime_version ? Napi::Value(Napi::Number::New(env, p.runtime_version)) : env.Null());
        o.Set("driverVersion", p.driver_version ? Napi::Value(Napi::Number::New(env, p.driver_version)) : env.Null());
        o.Set("deviceCount", p.device_count >= 0 ? Napi::Value(Napi::Number::New(env, p.device_count)) : env.Null());
        if (p.device_ok) {
          Napi::Object d = Napi::Object::New(env);
          d.Set("ordinal", p.device.ordinal);
          d.Set("name", p.device.name);
          d.Set("computeCapability", std::to_string(p.device.cc_major) + "." + std::to_string(p.device.cc_minor));
          d.Set("multiprocessors", p.device.multiprocessors);
          d.Set("totalBytes", static_cast<double>(p.device.total_bytes));
          d.Set("freeBytes", static_cast<double>(p.device.free_bytes));
          d.Set("pciBusId", p.device.pci_bus_id);
          o.Set("device", d);
        } else {
          o.Set("device", env.Null());
        }
        o.Set("cublas", library(env, p.cublas));
        o.Set("cudnn", library(env, p.cudnn));
        o.Set("stagesImplemented", p.stages_implemented);
        o.Set("stagesTotal", p.stages_total);
        o.Set("usable", p.usable);
        Napi::Array r = Napi::Array::New(env, p.reasons.size());
        for (uint32_t i = 0; i < p.reasons.size(); ++i) r.Set(i, p.reasons[i]);
        o.Set("reasons", r);
        return o;
      });
}

// cudaContextCheck(): Promise<{ freeBytes, totalBytes }>: creates and destroys a
// plugin context on device 0; plugin errors reject with code, call, file, line.
static Napi::Value CudaContextCheck(const Napi::CallbackInfo& info) {
  auto stats = std::make_shared<s3d_cuda_memory_stats>();
  return PromiseWorker::Start(
      info.Env(), "s3d.cudaContextCheck", [stats] { *stats = backend::cuda_context_check(); },
      [stats](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("freeBytes", static_cast<double>(stats->free_bytes));
        o.Set("totalBytes", static_cast<double>(stats->total_bytes));
        return o;
      });
}

void register_cuda_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaProbe", Napi::Function::New<CudaProbe>(env, "cudaProbe"));
  exports.Set("cudaContextCheck", Napi::Function::New<CudaContextCheck>(env, "cudaContextCheck"));
}

}  // namespace s3d::napi
