// Engine stages implemented in CUDA, registered by the kernels' own .cu files
// (S3D_CUDA_STAGE in plugin_internal.h). A stage nobody registered answers
// S3D_CUDA_NOT_IMPLEMENTED, so the addon can say exactly what is missing.
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "plugin_internal.h"

namespace s3d::cuda {

// Named as the engine's stages (cpp/model/engine.cc run_stage, the fixture stage names).
const char* const kEngineStages[] = {
    "encoder",          "slot_attention", "audio_net",     "cross_attention",         "deformation_field",
    "triplane_decoder", "volume_render",  "nerf_renderer", "super_resolution_source", "super_resolution"};
const int kEngineStageCount = static_cast<int>(sizeof(kEngineStages) / sizeof(kEngineStages[0]));

namespace {
std::vector<std::pair<std::string, StageFn>>& registry() {
  static std::vector<std::pair<std::string, StageFn>> r;  // filled during static init, read-only after
  return r;
}
}  // namespace

StageRegistrar::StageRegistrar(const char* name, StageFn fn) { registry().emplace_back(name, fn); }

StageFn find_stage(const char* name) {
  if (!name) return nullptr;
  for (auto& [n, fn] : registry())
    if (n == name) return fn;
  return nullptr;
}

int implemented_stage_count() {
  int n = 0;
  for (int i = 0; i < kEngineStageCount; ++i) n += find_stage(kEngineStages[i]) != nullptr;
  return n;
}

}  // namespace s3d::cuda
