// cudaProbe() / cudaContextCheck(): the optional CUDA plugin as seen from JS
// (cpp/backend/cuda_plugin_loader.h). Both return Promises: loading the plugin
// and initialising CUDA can take a while on a machine with a GPU.
#pragma once
#include <napi.h>

namespace s3d::napi {
void register_cuda_functions(Napi::Env env, Napi::Object exports);
}
