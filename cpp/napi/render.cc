// renderFrame(session, identity, audio, frame, pose: Float32Array(16)):
//   Promise<Float32Array(S*S*3)>, channel-last RGB, nominally [0,1].
#include <memory>
#include <string>

#include "napi/args.h"
#include "napi/async_work.h"
#include "napi/audio_wrap.h"
#include "napi/errors.h"
#include "napi/identity_wrap.h"
#include "napi/render.h"
#include "napi/session_wrap.h"

namespace s3d::napi {

static Napi::Value RenderFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    std::shared_ptr<Engine> engine = SessionWrap::engine_of(env, info[0]);
    std::shared_ptr<IdentityState> identity = IdentityWrap::state_of(env, info[1], engine.get());
    AudioWrap::Ref audio = AudioWrap::ref_of(env, info[2], engine.get());
    if (audio.frame_count <= 0) throw_invalid(env, "The audio track is empty");
    const int64_t frame = integer_arg(info, 3, "frame", 0, audio.frame_count - 1);
    Mat4 pose = mat4_arg(info, 4, "pose");

    // The output array is allocated here and only handed to JS when the
    // frame is done, so the worker can write into it without a copy.
    const int64_t s = engine->config().image_size;
    Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(s * s * 3));
    float* out_data = out.Data();
    auto out_ref = std::make_shared<Napi::ObjectReference>(Napi::Persistent(out.As<Napi::Object>()));
    std::shared_ptr<AudioFeatures> features = audio.features;
    return PromiseWorker::Start(
        env, "s3d.renderFrame",
        [engine, identity, features, frame, pose, out_data] {
          engine->render_frame(*identity, *features, frame, pose, out_data);
        },
        [out_ref](Napi::Env) -> Napi::Value { return out_ref->Value(); });
  });
}

void register_render_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("renderFrame", Napi::Function::New<RenderFrame>(env, "renderFrame"));
}

}  // namespace s3d::napi
