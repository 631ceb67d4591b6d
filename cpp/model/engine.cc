// TEMPORARY placeholder so the addon links before the real engine lands.
// The lead overwrites this whole file with the real Engine implementation.
// Every entry point throws ErrorCode::NotImplemented.
#include "model/engine.h"

#include "core/error.h"

namespace s3d {

struct Engine::Impl {};

namespace {
[[noreturn]] void not_built() { throw Error(ErrorCode::NotImplemented, "engine not built yet"); }
}  // namespace

Engine::Engine() = default;
Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::load(const std::string&, int) { not_built(); }
const ModelConfig& Engine::config() const { not_built(); }
const std::string& Engine::metadata_json() const { not_built(); }
int Engine::threads() const { not_built(); }
std::shared_ptr<IdentityState> Engine::encode_identity(const float*, const float*, const Mat4&) const {
  not_built();
}
std::shared_ptr<AudioFeatures> Engine::prepare_audio(const float*, int64_t, int) const { not_built(); }
void Engine::render_frame(const IdentityState&, const AudioFeatures&, int64_t, const Mat4&, float*) const {
  not_built();
}
TensorMap Engine::run_stage(const std::string&, const TensorMap&) const { not_built(); }
FrameTimings Engine::last_timings() const { not_built(); }

}  // namespace s3d
