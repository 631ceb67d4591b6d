#include "audio/audio_features.h"
#include "napi/audio_wrap.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "napi/addon_data.h"
#include "napi/args.h"
#include "napi/async_work.h"
#include "napi/errors.h"
#include "napi/session_wrap.h"

namespace s3d::napi {

Napi::Function AudioWrap::Define(Napi::Env env) {
  return DefineClass(env, "AudioHandle",
                     {InstanceMethod<&AudioWrap::Dispose>("dispose"),
                      InstanceAccessor<&AudioWrap::IsDisposed>("disposed"),
                      InstanceAccessor<&AudioWrap::FrameCount>("frameCount"),
                      InstanceAccessor<&AudioWrap::SampleCount>("sampleCount")});
}

AudioWrap::AudioWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AudioWrap>(info) {}

Napi::Object AudioWrap::Wrap(Napi::Env env, std::shared_ptr<AudioFeatures> features,
                             std::shared_ptr<const Engine> owner, int64_t frame_count,
                             int64_t sample_count) {
  Napi::Object obj = addon_data(env).audio_ctor.New({});
  AudioWrap* w = Unwrap(obj);
  w->features_ = std::move(features);
  w->owner_ = std::move(owner);
  w->frame_count_ = frame_count;
  w->sample_count_ = sample_count;
  return obj;
}

AudioWrap::Ref AudioWrap::ref_of(Napi::Env env, Napi::Value handle, const Engine* engine) {
  if (!handle.IsObject() || !handle.As<Napi::Object>().InstanceOf(addon_data(env).audio_ctor.Value()))
    throw_invalid(env, "Expected an audio handle");
  AudioWrap* w = Unwrap(handle.As<Napi::Object>());
  if (!w->features_) throw make_error(env, kDisposed, "The audio track has been disposed");
  if (engine && w->owner_.get() != engine)
    throw_invalid(env, "The audio track was prepared by a different session");
  return {w->features_, w->frame_count_};
}

Napi::Value AudioWrap::Dispose(const Napi::CallbackInfo& info) {
  features_.reset();
  owner_.reset();
  return info.Env().Undefined();
}

Napi::Value AudioWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !features_);
}

Napi::Value AudioWrap::FrameCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(frame_count_));
}

Napi::Value AudioWrap::SampleCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(sample_count_));
}

// prepareAudio(session, samples: Float32Array (mono), sampleRate): Promise<AudioHandle>
static Napi::Value PrepareAudio(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    std::shared_ptr<Engine> engine = SessionWrap::engine_of(env, info[0]);
    auto samples = std::make_shared<std::vector<float>>(float_array(info, 1, "samples"));
    // The rate comes from a WAV header (any u32): an unusable one is bad audio
    // (ERR_INPUT_AUDIO, as the engine reports it), not a bad argument, and is
    // rejected before narrowing to int.
    const int64_t rate64 = integer_arg(info, 2, "sampleRate", 1, int64_t(1) << 53);
    if (rate64 < kMinSampleRate || rate64 > kMaxSampleRate)
      throw make_error(env, error_code_name(ErrorCode::InputAudio),
                       "Expected a sample rate between " + std::to_string(kMinSampleRate) + " and " +
                           std::to_string(kMaxSampleRate) + " Hz for audio but received " +
                           std::to_string(rate64));
    const int rate = static_cast<int>(rate64);
    const int64_t count = static_cast<int64_t>(samples->size());
    auto result = std::make_shared<std::shared_ptr<AudioFeatures>>();
    return PromiseWorker::Start(
        env, "s3d.prepareAudio",
        [engine, samples, rate, result] {
          *result = engine->prepare_audio(samples->data(), static_cast<int64_t>(samples->size()), rate);
        },
        [engine, result, count](Napi::Env env) -> Napi::Value {
          // The engine's count (from the resampled length) is the one render_frame checks against.
          const int64_t frames = (*result)->frame_count;
          return AudioWrap::Wrap(env, std::move(*result), engine, frames, count);
        });
  });
}

// audioLogMel(audio): { shape: [melFrames, nMels], data: Float32Array } (engine
// layout, channel-last); for tests comparing the one-shot and streamed paths.
static Napi::Value AudioLogMel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    AudioWrap::Ref r = AudioWrap::ref_of(env, info[0], nullptr);
    const Tensor& t = r.features->logmel;
    Napi::Float32Array data = Napi::Float32Array::New(env, static_cast<size_t>(t.numel()));
    std::copy(t.data, t.data + t.numel(), data.Data());
    Napi::Array shape = Napi::Array::New(env, 2);
    shape.Set(0u, Napi::Number::New(env, static_cast<double>(t.dim(0))));
    shape.Set(1u, Napi::Number::New(env, static_cast<double>(t.dim(1))));
    Napi::Object o = Napi::Object::New(env);
    o.Set("shape", shape);
    o.Set("data", data);
    return o;
  });
}

void register_audio_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("prepareAudio", Napi::Function::New<PrepareAudio>(env, "prepareAudio"));
  exports.Set("audioLogMel", Napi::Function::New<AudioLogMel>(env, "audioLogMel"));
}

}  // namespace s3d::napi
