// Shared by the libFuzzer targets in tests/fuzz/ (built by scripts/fuzz.sh).
// The parsers may only fail with s3d::Error(ModelFormat): any other exception
// (Internal from a JsonValue type mismatch, std::out_of_range, ...) means a
// missing validation and is turned into a crash so libFuzzer records it.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "core/error.h"

namespace s3d_fuzz {

template <typename Fn>
void expect_model_format_errors_only(Fn&& fn) {
  try {
    fn();
  } catch (const s3d::Error& e) {
    if (e.code() != s3d::ErrorCode::ModelFormat) {
      std::fprintf(stderr, "unexpected error code %s: %s\n", s3d::error_code_name(e.code()), e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    std::abort();
  }
}

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

}  // namespace s3d_fuzz
