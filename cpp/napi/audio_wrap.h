// JS handle for a prepared audio track (resampled, log-mel computed).
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>

#include "model/engine.h"

namespace s3d::napi {

class AudioWrap : public Napi::ObjectWrap<AudioWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<AudioFeatures> features,
                           std::shared_ptr<const Engine> owner, int64_t frame_count,
                           int64_t sample_count);
  struct Ref {
    std::shared_ptr<AudioFeatures> features;
    int64_t frame_count;
  };
  // The audio behind a handle argument; it must belong to `engine` (unless null).
  static Ref ref_of(Napi::Env env, Napi::Value handle, const Engine* engine);

  explicit AudioWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value FrameCount(const Napi::CallbackInfo& info);
  Napi::Value SampleCount(const Napi::CallbackInfo& info);

  std::shared_ptr<AudioFeatures> features_;
  std::shared_ptr<const Engine> owner_;
  int64_t frame_count_ = 0;
  int64_t sample_count_ = 0;
};

// prepareAudio; audioLogMel (the log-mel track of a handle, for tests).
void register_audio_functions(Napi::Env env, Napi::Object exports);

}  // namespace s3d::napi
