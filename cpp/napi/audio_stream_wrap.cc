#include "napi/audio_stream_wrap.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "audio/audio_features.h"
#include "audio/audio_stream.h"
#include "core/error.h"
#include "napi/addon_data.h"
#include "napi/args.h"
#include "napi/async_work.h"
#include "napi/audio_wrap.h"
#include "napi/errors.h"
#include "napi/session_wrap.h"

namespace s3d::napi {

Napi::Function AudioStreamWrap::Define(Napi::Env env) {
  return DefineClass(env, "AudioStreamHandle",
                     {InstanceMethod<&AudioStreamWrap::Dispose>("dispose"),
                      InstanceAccessor<&AudioStreamWrap::IsDisposed>("disposed")});
}

AudioStreamWrap::AudioStreamWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AudioStreamWrap>(info) {}

Napi::Value AudioStreamWrap::Dispose(const Napi::CallbackInfo& info) {
  state_.reset();
  return info.Env().Undefined();
}

Napi::Value AudioStreamWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !state_);
}

namespace {

// The stream behind a handle argument, marked busy until the caller's worker
// clears it; throws if it is disposed, finished or already busy.
std::shared_ptr<AudioStreamWrap::State> claim(Napi::Env env, Napi::Value handle) {
  if (!handle.IsObject() || !handle.As<Napi::Object>().InstanceOf(addon_data(env).audio_stream_ctor.Value()))
    throw_invalid(env, "Expected an audio stream handle");
  auto st = AudioStreamWrap::Unwrap(handle.As<Napi::Object>())->state_;
  if (!st) throw make_error(env, kDisposed, "The audio stream has been disposed");
  // Claimed first: the builder is only read once no worker can be using it.
  if (st->busy.exchange(true)) throw_invalid(env, "Expected one audio stream call at a time (the previous one has not settled)");
  if (!st->builder || st->builder->finished()) {
    st->busy = false;
    throw_invalid(env, "The audio stream is already finished");
  }
  return st;
}

struct Unbusy {  // clears the busy flag when the worker's execute ends, thrown or not
  AudioStreamWrap::State* s;
  ~Unbusy() { s->busy = false; }
};

// audioStreamCreate(session, sampleRate): AudioStreamHandle
Napi::Value AudioStreamCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    std::shared_ptr<Engine> engine = SessionWrap::engine_of(env, info[0]);
    // As prepareAudio: an unusable rate (from a file header) is bad audio, checked before narrowing.
    const int64_t rate64 = integer_arg(info, 1, "sampleRate", 1, int64_t(1) << 53);
    if (rate64 < kMinSampleRate || rate64 > kMaxSampleRate)
      throw make_error(env, error_code_name(ErrorCode::InputAudio),
                       "Expected a sample rate between " + std::to_string(kMinSampleRate) + " and " +
                           std::to_string(kMaxSampleRate) + " Hz for audio but received " + std::to_string(rate64));
    auto st = std::make_shared<AudioStreamWrap::State>();
    st->engine = engine;
    st->builder = engine->begin_audio(static_cast<int>(rate64));
    Napi::Object obj = addon_data(env).audio_stream_ctor.New({});
    AudioStreamWrap::Unwrap(obj)->state_ = std::move(st);
    return obj;
  });
}

struct StreamStatus {
  int64_t samples_pushed = 0, samples16k = 0, mel_frames = 0, frames_ready = 0;
};

StreamStatus status_of(const AudioStreamBuilder& b) {
  return {b.samples_pushed(), b.samples16k(), b.mel_frames(), b.frames_ready()};
}

Napi::Object status_object(Napi::Env env, const StreamStatus& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("samplesPushed", Napi::Number::New(env, static_cast<double>(s.samples_pushed)));
  o.Set("samples16k", Napi::Number::New(env, static_cast<double>(s.samples16k)));
  o.Set("melFrames", Napi::Number::New(env, static_cast<double>(s.mel_frames)));
  o.Set("framesReady", Napi::Number::New(env, static_cast<double>(s.frames_ready)));
  return o;
}

// audioStreamPush(stream, samples: Float32Array (mono)): Promise<{ samplesPushed,
// samples16k, melFrames, framesReady }> (the stream's state after the push)
Napi::Value AudioStreamPush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto samples = std::make_shared<std::vector<float>>(float_array(info, 1, "samples"));
    auto st = claim(env, info[0]);
    auto status = std::make_shared<StreamStatus>();
    return PromiseWorker::Start(
        env, "s3d.audioStreamPush",
        [st, samples, status] {
          Unbusy u{st.get()};
          st->builder->push(samples->data(), static_cast<int64_t>(samples->size()));
          *status = status_of(*st->builder);
        },
        [status](Napi::Env env) -> Napi::Value { return status_object(env, *status); });
  });
}

// The stream behind a handle for a synchronous call: not disposed, finished or busy.
std::shared_ptr<AudioStreamWrap::State> idle_stream(Napi::Env env, Napi::Value handle) {
  auto st = claim(env, handle);
  st->busy = false;
  return st;
}

// audioStreamWindow(stream, frame): AudioHandle holding only frame `frame`'s
// deformation window (frame < framesReady), with frameCount frame + 1:
// renderFrame(session, identity, it, frame, pose) renders what the finished
// track would. Synchronous (copies window_frames x n_mels floats).
Napi::Value AudioStreamWindow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto st = idle_stream(env, info[0]);
    const int64_t ready = st->builder->frames_ready();
    if (ready <= 0) throw_invalid(env, "No video frame of the audio stream is ready yet");
    const int64_t frame = integer_arg(info, 1, "frame", 0, ready - 1);
    std::shared_ptr<AudioFeatures> f = st->builder->window_features(frame);
    const int64_t frames = f->frame_count;
    return AudioWrap::Wrap(env, std::move(f), st->engine, frames, st->builder->samples_pushed());
  });
}

// audioStreamDiscard(stream, frame): frees the log-mel columns no frame >= `frame` needs.
Napi::Value AudioStreamDiscard(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto st = idle_stream(env, info[0]);
    const int64_t frame = integer_arg(info, 1, "frame", 0, int64_t(1) << 53);
    st->builder->discard_before_frame(std::min(frame, st->builder->frames_ready()));
    return env.Undefined();
  });
}

// audioStreamFinish(stream): Promise<AudioHandle>
Napi::Value AudioStreamFinish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    auto st = claim(env, info[0]);
    auto result = std::make_shared<std::shared_ptr<AudioFeatures>>();
    auto count = std::make_shared<int64_t>(0);
    return PromiseWorker::Start(
        env, "s3d.audioStreamFinish",
        [st, result, count] {
          Unbusy u{st.get()};
          *count = st->builder->samples_pushed();
          *result = st->builder->finish();
          st->builder.reset();  // the partial state is no longer needed
        },
        [st, result, count](Napi::Env env) -> Napi::Value {
          const int64_t frames = (*result)->frame_count;
          return AudioWrap::Wrap(env, std::move(*result), st->engine, frames, *count);
        });
  });
}

}  // namespace

void register_audio_stream_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("audioStreamCreate", Napi::Function::New<AudioStreamCreate>(env, "audioStreamCreate"));
  exports.Set("audioStreamPush", Napi::Function::New<AudioStreamPush>(env, "audioStreamPush"));
  exports.Set("audioStreamFinish", Napi::Function::New<AudioStreamFinish>(env, "audioStreamFinish"));
  exports.Set("audioStreamWindow", Napi::Function::New<AudioStreamWindow>(env, "audioStreamWindow"));
  exports.Set("audioStreamDiscard", Napi::Function::New<AudioStreamDiscard>(env, "audioStreamDiscard"));
}

}  // namespace s3d::napi
