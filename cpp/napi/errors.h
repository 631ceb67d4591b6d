// Turning engine exceptions into JS errors. Every JS error the addon raises
// carries a stable string `.code`; ts/errors.ts maps it to a typed class.
#pragma once
#include <napi.h>

#include <exception>
#include <string>

namespace s3d::napi {

// Codes the addon raises on its own (the rest come from s3d::error_code_name).
inline constexpr const char* kDisposed = "ERR_DISPOSED";
inline constexpr const char* kInvalidArg = "ERR_INVALID_ARG";
inline constexpr const char* kInternal = "ERR_INTERNAL";

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);

// A caught C++ exception reduced to (code, message), safe to carry across threads.
struct CaughtError {
  std::string code;
  std::string message;
};
CaughtError describe(std::exception_ptr e);

// Runs fn on the JS thread; engine exceptions become JS errors with a code.
template <typename Fn>
Napi::Value guard(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    CaughtError c = describe(std::current_exception());
    throw make_error(env, c.code, c.message);
  }
}

}  // namespace s3d::napi
