// cpuFeatures(): what this CPU (and OS) supports, for diagnostics and bench logs.
#pragma once
#include <napi.h>

namespace s3d::napi {
void register_cpu_functions(Napi::Env env, Napi::Object exports);
}
