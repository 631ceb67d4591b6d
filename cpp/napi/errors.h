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
// Errors of the CUDA plugin also say where they failed (call, file, line) and,
// for out-of-memory, the requested and free device bytes; make_error() puts
// those on the JS error as .call, .file, .line, .requestedBytes, .freeBytes.
struct CaughtError {
  std::string code;
  std::string message;
  bool has_location = false;
  std::string call, file;
  int line = 0;
  double requested_bytes = -1, free_bytes = -1;  // < 0: not known
};
CaughtError describe(std::exception_ptr e);
Napi::Error make_error(Napi::Env env, const CaughtError& c);

// Runs fn on the JS thread; engine exceptions become JS errors with a code.
template <typename Fn>
Napi::Value guard(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw make_error(env, describe(std::current_exception()));
  }
}

}  // namespace s3d::napi
