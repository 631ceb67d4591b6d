// Promise-returning background work. `execute` runs on a libuv worker thread
// and must not touch N-API; `resolve` runs back on the JS thread and builds the
// result. Whatever the lambdas capture (shared_ptrs to the engine, identity,
// audio) lives until the worker is done, so JS may dispose handles meanwhile.
#pragma once
#include <napi.h>

#include <functional>
#include <utility>

#include "napi/errors.h"

namespace s3d::napi {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Execute_t = std::function<void()>;
  using Resolve_t = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise Start(Napi::Env env, const char* name, Execute_t execute, Resolve_t resolve) {
    auto* w = new PromiseWorker(env, name, std::move(execute), std::move(resolve));
    Napi::Promise p = w->deferred_.Promise();
    w->Napi::AsyncWorker::Queue();  // the worker deletes itself after OnOK/OnError
    return p;
  }

 protected:
  void Execute() override {
    try {
      execute_();
    } catch (...) {
      error_ = describe(std::current_exception());
      SetError(error_.message);
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      deferred_.Resolve(resolve_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(make_error(env, describe(std::current_exception())).Value());
    }
    release();
  }

  void OnError(const Napi::Error&) override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    deferred_.Reject(make_error(env, error_).Value());
    release();
  }

 private:
  PromiseWorker(Napi::Env env, const char* name, Execute_t execute, Resolve_t resolve)
      : Napi::AsyncWorker(env, name),
        deferred_(Napi::Promise::Deferred::New(env)),
        execute_(std::move(execute)),
        resolve_(std::move(resolve)) {}

  // Drop captured engine/identity references as soon as the result is delivered.
  void release() {
    execute_ = nullptr;
    resolve_ = nullptr;
  }

  Napi::Promise::Deferred deferred_;
  Execute_t execute_;
  Resolve_t resolve_;
  CaughtError error_;
};

}  // namespace s3d::napi
