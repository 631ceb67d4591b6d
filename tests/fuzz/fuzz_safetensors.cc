// libFuzzer target: a whole model file, as Engine::load sees it.
//   parse_safetensors -> Weights::from_file (metadata, format_version, config
//   JSON, provenance) -> Network (every tensor fetched by name and shape,
//   repacked) -> check_no_unused.
// Build and run: scripts/fuzz.sh [seconds] (seeds: scripts/fuzz-seeds.mjs).
#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/safetensors.h"
#include "fuzz_common.h"
#include "model/network.h"
#include "model/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  s3d_fuzz::expect_model_format_errors_only([&] {
    s3d::SafetensorsFile file = s3d::parse_safetensors(data, size, "fuzz");
    for (const auto& kv : file.tensors)
      if (kv.second.numel() * 2 > static_cast<int64_t>(size)) s3d_fuzz::fail("tensor larger than its bytes");
    s3d::Weights w = s3d::Weights::from_file(std::move(file), "fuzz");
    s3d::Network net(w);
    w.check_no_unused();
  });
  return 0;
}
