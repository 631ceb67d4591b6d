// runStage(session, name, { [input]: { shape: number[], data: Float32Array } })
//   : Promise<{ [output]: { shape: number[], data: Float32Array } }>
#include "napi/stage.h"

#include <cstring>
#include <memory>
#include <string>

#include "core/tensor.h"
#include "napi/args.h"
#include "napi/async_work.h"
#include "napi/errors.h"
#include "napi/session_wrap.h"

namespace s3d::napi {

static Tensor tensor_from_js(Napi::Env env, const std::string& name, Napi::Value v) {
  if (!v.IsObject()) throw_invalid(env, "Expected { shape, data } for input " + name);
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value shape_v = o.Get("shape");
  Napi::Value data_v = o.Get("data");
  if (!shape_v.IsArray()) throw_invalid(env, "Expected an array of dimensions for " + name + ".shape");
  if (!data_v.IsTypedArray() || data_v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_invalid(env, "Expected a Float32Array for " + name + ".data");
  Napi::Array shape_a = shape_v.As<Napi::Array>();
  Shape shape;
  for (uint32_t i = 0; i < shape_a.Length(); ++i) {
    Napi::Value d = shape_a.Get(i);
    double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    // (range check first: casting a double >= 2^63 to int64 is undefined)
    if (!(x >= 0) || x >= 9223372036854775807.0 || x != static_cast<double>(static_cast<int64_t>(x)))
      throw_invalid(env, "Expected non-negative integer dimensions for " + name + ".shape");
    shape.push_back(static_cast<int64_t>(x));
  }
  // Dimensions from JS may multiply past int64 (signed overflow in
  // shape_numel); no input can be larger than a typed array anyway.
  int64_t numel = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(numel, d, &numel) || numel > (int64_t(1) << 40))
      throw_invalid(env, "Expected non-negative integer dimensions for " + name +
                             ".shape whose product fits in memory but received " + shape_str(shape));
  Napi::Float32Array data = data_v.As<Napi::Float32Array>();
  if (static_cast<int64_t>(data.ElementLength()) != shape_numel(shape))
    throw_invalid(env, "Expected " + std::to_string(shape_numel(shape)) + " floats for " + name +
                           ".data (shape " + shape_str(shape) + ") but received " +
                           std::to_string(data.ElementLength()));
  Tensor t = Tensor::empty(shape);
  if (t.numel() > 0) std::memcpy(t.data, data.Data(), t.numel() * sizeof(float));
  return t;
}

static Napi::Object tensor_to_js(Napi::Env env, const Tensor& t) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array shape = Napi::Array::New(env, t.shape.size());
  for (size_t i = 0; i < t.shape.size(); ++i)
    shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.shape[i])));
  const int64_t n = t.defined() ? t.numel() : 0;
  Napi::Float32Array data = Napi::Float32Array::New(env, static_cast<size_t>(n));
  if (n > 0) std::memcpy(data.Data(), t.data, n * sizeof(float));
  o.Set("shape", shape);
  o.Set("data", data);
  return o;
}

static Napi::Value RunStage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    std::shared_ptr<Engine> engine = SessionWrap::engine_of(env, info[0]);
    std::string stage = string_arg(info, 1, "stage name");
    if (info.Length() < 3 || !info[2].IsObject()) throw_invalid(env, "Expected an object of input tensors");
    Napi::Object in = info[2].As<Napi::Object>();
    auto inputs = std::make_shared<TensorMap>();
    Napi::Array keys = in.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).ToString().Utf8Value();
      (*inputs)[k] = tensor_from_js(env, k, in.Get(k));
    }
    auto outputs = std::make_shared<TensorMap>();
    return PromiseWorker::Start(
        env, "s3d.runStage",
        [engine, stage, inputs, outputs] { *outputs = engine->run_stage(stage, *inputs); },
        [outputs](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          for (const auto& [name, t] : *outputs) o.Set(name, tensor_to_js(env, t));
          return o;
        });
  });
}

void register_stage_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("runStage", Napi::Function::New<RunStage>(env, "runStage"));
}

}  // namespace s3d::napi
