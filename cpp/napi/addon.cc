// Module init for the s3d_nerf addon: handle classes + the native functions
// that ts/native.ts types. All work-doing functions return Promises and run
// on the libuv pool (napi/async_work.h); getters are synchronous.
#include <napi.h>

#include "napi/addon_data.h"
#include "napi/audio_stream_wrap.h"
#include "napi/audio_wrap.h"
#include "napi/cpu_info.h"
#include "napi/cuda_info.h"
#include "napi/identity_wrap.h"
#include "napi/render.h"
#include "napi/session_wrap.h"
#include "napi/stage.h"

namespace s3d::napi {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted by N-API at env teardown
  data->session_ctor = Napi::Persistent(SessionWrap::Define(env));
  data->identity_ctor = Napi::Persistent(IdentityWrap::Define(env));
  data->audio_ctor = Napi::Persistent(AudioWrap::Define(env));
  data->audio_stream_ctor = Napi::Persistent(AudioStreamWrap::Define(env));

  register_session_functions(env, exports);
  register_identity_functions(env, exports);
  register_audio_functions(env, exports);
  register_audio_stream_functions(env, exports);
  register_render_functions(env, exports);
  register_stage_functions(env, exports);
  register_cpu_functions(env, exports);
  register_cuda_functions(env, exports);
  return exports;
}

}  // namespace s3d::napi

static Napi::Object InitS3dNerf(Napi::Env env, Napi::Object exports) {
  return s3d::napi::Init(env, exports);
}

NODE_API_MODULE(s3d_nerf, InitS3dNerf)
