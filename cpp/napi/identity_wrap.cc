#include "napi/identity_wrap.h"

#include <utility>
#include <vector>

#include "napi/addon_data.h"
#include "napi/args.h"
#include "napi/async_work.h"
#include "napi/errors.h"
#include "napi/session_wrap.h"

namespace s3d::napi {

Napi::Function IdentityWrap::Define(Napi::Env env) {
  return DefineClass(env, "IdentityHandle",
                     {InstanceMethod<&IdentityWrap::Dispose>("dispose"),
                      InstanceAccessor<&IdentityWrap::IsDisposed>("disposed")});
}

IdentityWrap::IdentityWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IdentityWrap>(info) {}

Napi::Object IdentityWrap::Wrap(Napi::Env env, std::shared_ptr<IdentityState> state,
                                std::shared_ptr<const Engine> owner) {
  Napi::Object obj = addon_data(env).identity_ctor.New({});
  IdentityWrap* w = Unwrap(obj);
  w->state_ = std::move(state);
  w->owner_ = std::move(owner);
  return obj;
}

std::shared_ptr<IdentityState> IdentityWrap::state_of(Napi::Env env, Napi::Value handle,
                                                      const Engine* engine) {
  if (!handle.IsObject() || !handle.As<Napi::Object>().InstanceOf(addon_data(env).identity_ctor.Value()))
    throw_invalid(env, "Expected an identity handle");
  IdentityWrap* w = Unwrap(handle.As<Napi::Object>());
  if (!w->state_) throw make_error(env, kDisposed, "The identity has been disposed");
  if (w->owner_.get() != engine)
    throw_invalid(env, "The identity was encoded by a different session");
  return w->state_;
}

Napi::Value IdentityWrap::Dispose(const Napi::CallbackInfo& info) {
  state_.reset();
  owner_.reset();
  return info.Env().Undefined();
}

Napi::Value IdentityWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !state_);
}

// encodeIdentity(session, rgb: Float32Array(S*S*3), mask: Float32Array(S*S),
//                pose: Float32Array(16)): Promise<IdentityHandle>
static Napi::Value EncodeIdentity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    std::shared_ptr<Engine> engine = SessionWrap::engine_of(env, info[0]);
    const int64_t s = engine->config().image_size;
    auto rgb = std::make_shared<std::vector<float>>(float_array(info, 1, "rgb", s * s * 3));
    auto mask = std::make_shared<std::vector<float>>(float_array(info, 2, "mask", s * s));
    Mat4 pose = mat4_arg(info, 3, "pose");
    auto result = std::make_shared<std::shared_ptr<IdentityState>>();
    return PromiseWorker::Start(
        env, "s3d.encodeIdentity",
        [engine, rgb, mask, pose, result] {
          *result = engine->encode_identity(rgb->data(), mask->data(), pose);
        },
        [engine, result](Napi::Env env) -> Napi::Value {
          return IdentityWrap::Wrap(env, std::move(*result), engine);
        });
  });
}

void register_identity_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("encodeIdentity", Napi::Function::New<EncodeIdentity>(env, "encodeIdentity"));
}

}  // namespace s3d::napi
