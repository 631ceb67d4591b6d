#include "napi/cpu_info.h"

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/bf16.h"
#include "kernels/isa.h"

namespace s3d::napi {

// The engine's own dispatch view (core/cpu_features.h), including any
// S3D_CPU_FEATURES cap, so bench logs show which kernels actually ran.
static Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const s3d::CpuFeatures& f = s3d::cpu_features();
  Napi::Object o = Napi::Object::New(env);
  auto flag = [&](const char* name, bool v) { o.Set(name, Napi::Boolean::New(env, v)); };
  flag("avx2", f.avx2);
  flag("fma", f.fma);
  flag("avx512f", f.avx512f);
  flag("avx512bw", f.avx512bw);
  flag("avx512vl", f.avx512vl);
  flag("avx512dq", f.avx512dq);
  flag("avx512bf16", f.avx512_bf16);
  flag("avx512fp16", f.avx512_fp16);
  flag("amxTile", f.amx_tile);
  flag("amxBf16", f.amx_bf16);
  flag("amxInt8", f.amx_int8);
  o.Set("brand", f.brand);
  o.Set("cap", f.cap);
  o.Set("summary", s3d::cpu_features_string());
  // The GEMM/conv code path actually dispatched: "avx512", "avx2" or "scalar".
  o.Set("kernelIsa", s3d::isa_name(s3d::kernel_isa()));
  // Whether precision: 'fast' multiplies in bf16 here (else it equals 'exact').
  flag("bf16Kernels", s3d::bf16_kernels_available());
  o.Set("hardwareThreads", Napi::Number::New(env, ThreadPool::hardware_threads()));
  return o;
}

void register_cpu_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuFeatures", Napi::Function::New<CpuFeatures>(env, "cpuFeatures"));
}

}  // namespace s3d::napi
