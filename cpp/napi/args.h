// Argument checking for the native functions. The TypeScript layer validates
// first with friendlier messages; these checks keep the addon memory-safe when
// called directly (tests/internal use).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/engine.h"

namespace s3d::napi {

[[noreturn]] void throw_invalid(Napi::Env env, const std::string& message);

// Float32Array argument, copied out (the copy may go to a worker thread).
// expected < 0 accepts any length.
std::vector<float> float_array(const Napi::CallbackInfo& info, size_t index, const char* what,
                               int64_t expected = -1);
Mat4 mat4_arg(const Napi::CallbackInfo& info, size_t index, const char* what);
int64_t integer_arg(const Napi::CallbackInfo& info, size_t index, const char* what, int64_t min,
                    int64_t max);
std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* what);

}  // namespace s3d::napi
