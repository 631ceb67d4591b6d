// JS handle for a loaded engine (one model file + its thread pool).
#pragma once
#include <napi.h>

#include <memory>

#include "model/engine.h"

namespace s3d::napi {

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<Engine> engine);
  // The engine behind a handle argument; throws ERR_INVALID_ARG for a
  // non-handle and ERR_DISPOSED for a disposed one.
  static std::shared_ptr<Engine> engine_of(Napi::Env env, Napi::Value handle);

  explicit SessionWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  std::shared_ptr<Engine> engine_;  // in-flight workers hold their own copy
};

// loadModel, config, metadata, threads, lastTimings.
void register_session_functions(Napi::Env env, Napi::Object exports);

}  // namespace s3d::napi
