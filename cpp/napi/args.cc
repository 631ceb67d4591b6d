#include "napi/args.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "napi/errors.h"

namespace s3d::napi {

void throw_invalid(Napi::Env env, const std::string& message) {
  throw make_error(env, kInvalidArg, message);
}

static Napi::Value arg(const Napi::CallbackInfo& info, size_t index) {
  return index < info.Length() ? info[index] : info.Env().Undefined();
}

std::vector<float> float_array(const Napi::CallbackInfo& info, size_t index, const char* what,
                               int64_t expected) {
  Napi::Value v = arg(info, index);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_invalid(info.Env(), std::string("Expected a Float32Array for ") + what);
  auto a = v.As<Napi::Float32Array>();
  if (expected >= 0 && static_cast<int64_t>(a.ElementLength()) != expected)
    throw_invalid(info.Env(), std::string("Expected ") + std::to_string(expected) +
                                  " floats for " + what + " but received " +
                                  std::to_string(a.ElementLength()));
  std::vector<float> out(a.ElementLength());
  if (!out.empty()) std::memcpy(out.data(), a.Data(), out.size() * sizeof(float));
  return out;
}

Mat4 mat4_arg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  std::vector<float> v = float_array(info, index, what, 16);
  Mat4 m;
  for (int i = 0; i < 16; ++i) {
    if (!std::isfinite(v[i])) throw_invalid(info.Env(), std::string("Expected finite numbers for ") + what);
    m[i] = v[i];
  }
  return m;
}

int64_t integer_arg(const Napi::CallbackInfo& info, size_t index, const char* what, int64_t min,
                    int64_t max) {
  Napi::Value v = arg(info, index);
  if (!v.IsNumber()) throw_invalid(info.Env(), std::string("Expected an integer for ") + what);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min) ||
      d > static_cast<double>(max))
    throw_invalid(info.Env(), std::string("Expected an integer between ") + std::to_string(min) +
                                  " and " + std::to_string(max) + " for " + what);
  return static_cast<int64_t>(d);
}

std::string string_arg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  Napi::Value v = arg(info, index);
  if (!v.IsString()) throw_invalid(info.Env(), std::string("Expected a string for ") + what);
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace s3d::napi
