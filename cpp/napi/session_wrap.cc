#include "napi/session_wrap.h"

#include <limits>
#include <string>
#include <utility>

#include "core/model_config.h"
#include "napi/addon_data.h"
#include "napi/args.h"
#include "napi/async_work.h"
#include "napi/errors.h"

namespace s3d::napi {

Napi::Function SessionWrap::Define(Napi::Env env) {
  return DefineClass(env, "SessionHandle",
                     {InstanceMethod<&SessionWrap::Dispose>("dispose"),
                      InstanceAccessor<&SessionWrap::IsDisposed>("disposed")});
}

SessionWrap::SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {}

Napi::Object SessionWrap::Wrap(Napi::Env env, std::shared_ptr<Engine> engine) {
  Napi::Object obj = addon_data(env).session_ctor.New({});
  Unwrap(obj)->engine_ = std::move(engine);
  return obj;
}

std::shared_ptr<Engine> SessionWrap::engine_of(Napi::Env env, Napi::Value handle) {
  if (!handle.IsObject() || !handle.As<Napi::Object>().InstanceOf(addon_data(env).session_ctor.Value()))
    throw_invalid(env, "Expected a session handle");
  SessionWrap* w = Unwrap(handle.As<Napi::Object>());
  if (!w->engine_) throw make_error(env, kDisposed, "The session has been disposed");
  return w->engine_;
}

Napi::Value SessionWrap::Dispose(const Napi::CallbackInfo& info) {
  engine_.reset();
  return info.Env().Undefined();
}

Napi::Value SessionWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !engine_);
}

// loadModel(path: string, threads: number, precision: 'exact' | 'fast'): Promise<SessionHandle>
static Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = string_arg(info, 0, "model path");
  int threads = static_cast<int>(integer_arg(info, 1, "threads", 0, 4096));
  const std::string p = string_arg(info, 2, "precision");
  if (p != "exact" && p != "fast") throw_invalid(env, "Expected 'exact' or 'fast' for precision but received '" + p + "'");
  const Precision precision = p == "fast" ? Precision::Fast : Precision::Exact;
  auto engine = std::make_shared<std::shared_ptr<Engine>>();
  return PromiseWorker::Start(
      env, "s3d.loadModel",
      [path, threads, precision, engine] { *engine = Engine::load(path, threads, precision); },
      [engine](Napi::Env env) -> Napi::Value { return SessionWrap::Wrap(env, std::move(*engine)); });
}

// config(session): the model config as JSON (ts/session.ts parses it).
static Napi::Value Config(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto engine = SessionWrap::engine_of(info.Env(), info[0]);
    return Napi::String::New(info.Env(), model_config_to_json(engine->config()));
  });
}

// metadata(session): the whole safetensors "__metadata__" object as JSON.
static Napi::Value Metadata(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto engine = SessionWrap::engine_of(info.Env(), info[0]);
    return Napi::String::New(info.Env(), engine->metadata_json());
  });
}

static Napi::Value Threads(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto engine = SessionWrap::engine_of(info.Env(), info[0]);
    return Napi::Number::New(info.Env(), engine->threads());
  });
}

// lastTimings(session): { frame: { audioMs, attentionMs, nerfMs, srMs, totalMs },
//   identity: { encoderMs, aggregateMs, srSourceMs, totalMs } } of the last
// renderFrame / encodeIdentity (zeros before the first). Synchronous; for bench/.
static Napi::Value LastTimings(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto engine = SessionWrap::engine_of(env, info[0]);
    const FrameTimings f = engine->last_timings();
    const IdentityTimings id = engine->last_identity_timings();
    Napi::Object frame = Napi::Object::New(env);
    frame.Set("audioMs", f.audio_ms);
    frame.Set("attentionMs", f.attention_ms);
    frame.Set("nerfMs", f.nerf_ms);
    frame.Set("srMs", f.sr_ms);
    frame.Set("totalMs", f.total_ms);
    Napi::Object ident = Napi::Object::New(env);
    ident.Set("encoderMs", id.encoder_ms);
    ident.Set("aggregateMs", id.aggregate_ms);
    ident.Set("srSourceMs", id.sr_source_ms);
    ident.Set("totalMs", id.total_ms);
    Napi::Object o = Napi::Object::New(env);
    o.Set("frame", frame);
    o.Set("identity", ident);
    return o;
  });
}

void register_session_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("loadModel", Napi::Function::New<LoadModel>(env, "loadModel"));
  exports.Set("config", Napi::Function::New<Config>(env, "config"));
  exports.Set("metadata", Napi::Function::New<Metadata>(env, "metadata"));
  exports.Set("threads", Napi::Function::New<Threads>(env, "threads"));
  exports.Set("lastTimings", Napi::Function::New<LastTimings>(env, "lastTimings"));
}

}  // namespace s3d::napi
