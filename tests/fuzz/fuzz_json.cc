// libFuzzer target: the strict JSON parser (safetensors header, model config).
// Besides "no crash, only ModelFormat errors", checks that serialising a parsed
// document is a fixed point: to_json(parse_json(to_json(v))) == to_json(v).
// Build and run: scripts/fuzz.sh [seconds].
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/json.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  s3d_fuzz::expect_model_format_errors_only([&] {
    s3d::JsonValue v = s3d::parse_json(reinterpret_cast<const char*>(data), size, "fuzz");
    (void)s3d::json_preview(v);
    const std::string a = s3d::to_json(v);
    const std::string b = s3d::to_json(s3d::parse_json(a, "fuzz round trip"));
    if (a != b) s3d_fuzz::fail("to_json(parse_json(to_json(v))) != to_json(v)");
  });
  return 0;
}
