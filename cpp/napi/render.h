// Per-frame rendering entry point.
#pragma once
#include <napi.h>

namespace s3d::napi {
void register_render_functions(Napi::Env env, Napi::Object exports);
}
