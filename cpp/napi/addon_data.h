// Per-environment state (worker threads each get their own): the handle
// class constructors, so results can be wrapped and arguments type-checked.
#pragma once
#include <napi.h>

namespace s3d::napi {

struct AddonData {
  Napi::FunctionReference session_ctor;
  Napi::FunctionReference identity_ctor;
  Napi::FunctionReference audio_ctor;
  Napi::FunctionReference audio_stream_ctor;
};

inline AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace s3d::napi
