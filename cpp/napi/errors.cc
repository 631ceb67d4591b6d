#include "napi/errors.h"

#include <new>
#include <utility>

#include "backend/cuda_plugin_loader.h"
#include "core/error.h"

namespace s3d::napi {

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

Napi::Error make_error(Napi::Env env, const CaughtError& c) {
  Napi::Error err = make_error(env, c.code, c.message);
  if (c.has_location) {
    err.Set("call", Napi::String::New(env, c.call));
    err.Set("file", Napi::String::New(env, c.file));
    err.Set("line", Napi::Number::New(env, c.line));
  }
  if (c.requested_bytes >= 0) err.Set("requestedBytes", Napi::Number::New(env, c.requested_bytes));
  if (c.free_bytes >= 0) err.Set("freeBytes", Napi::Number::New(env, c.free_bytes));
  return err;
}

static CaughtError caught(std::string code, std::string message) {
  CaughtError c;
  c.code = std::move(code);
  c.message = std::move(message);
  return c;
}

CaughtError describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const s3d::backend::CudaPluginError& err) {
    CaughtError c = caught(error_code_name(err.code()), err.what());
    c.has_location = true;
    c.call = err.call();
    c.file = err.file();
    c.line = err.line();
    if (err.code() == ErrorCode::OutOfMemory) {
      c.requested_bytes = static_cast<double>(err.requested_bytes());
      c.free_bytes = static_cast<double>(err.free_bytes());
    }
    return c;
  } catch (const s3d::Error& err) {
    return caught(error_code_name(err.code()), err.what());
  } catch (const std::bad_alloc&) {
    return caught("ERR_OUT_OF_MEMORY", "out of memory");
  } catch (const std::exception& err) {
    return caught(kInternal, err.what());
  } catch (...) {
    return caught(kInternal, "unknown native error");
  }
}

}  // namespace s3d::napi
