#include "napi/errors.h"

#include <new>

#include "core/error.h"

namespace s3d::napi {

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

CaughtError describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const s3d::Error& err) {
    return {error_code_name(err.code()), err.what()};
  } catch (const std::bad_alloc&) {
    return {"ERR_OUT_OF_MEMORY", "out of memory"};
  } catch (const std::exception& err) {
    return {kInternal, err.what()};
  } catch (...) {
    return {kInternal, "unknown native error"};
  }
}

}  // namespace s3d::napi
