// JS handle for an encoded identity (the per-photo cache of DESIGN §1).
#pragma once
#include <napi.h>

#include <memory>

#include "model/engine.h"

namespace s3d::napi {

class IdentityWrap : public Napi::ObjectWrap<IdentityWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<IdentityState> state,
                           std::shared_ptr<const Engine> owner);
  // The identity behind a handle argument; it must belong to `engine`.
  static std::shared_ptr<IdentityState> state_of(Napi::Env env, Napi::Value handle,
                                                 const Engine* engine);

  explicit IdentityWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  std::shared_ptr<IdentityState> state_;
  std::shared_ptr<const Engine> owner_;  // identities are only valid with their engine
};

// encodeIdentity.
void register_identity_functions(Napi::Env env, Napi::Object exports);

}  // namespace s3d::napi
