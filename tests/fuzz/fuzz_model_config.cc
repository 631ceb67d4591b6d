// libFuzzer target: the model config ("config" metadata JSON).
// parse_model_config must accept or throw ModelFormat; an accepted config must
// serialise (model_config_to_json) to text that parses back to the same config.
// Build and run: scripts/fuzz.sh [seconds].
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/model_config.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  s3d_fuzz::expect_model_format_errors_only([&] {
    s3d::ModelConfig c = s3d::parse_model_config(text);
    const std::string a = s3d::model_config_to_json(c);
    const std::string b = s3d::model_config_to_json(s3d::parse_model_config(a));
    if (a != b) s3d_fuzz::fail("model_config_to_json round trip is not stable");
  });
  return 0;
}
