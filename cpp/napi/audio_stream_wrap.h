// JS handle for an audio track being built in chunks (audio/audio_stream.h):
// audioStreamCreate(session, sampleRate) -> AudioStream,
// audioStreamPush(stream, Float32Array) -> Promise<status> (resampling and the
// log-mel frames it completes run on the libuv pool; status: samplesPushed,
// samples16k, melFrames, framesReady),
// audioStreamWindow(stream, frame) -> AudioHandle of one ready frame's window,
// audioStreamDiscard(stream, frame) (live rendering, ts/live.ts),
// audioStreamFinish(stream) -> Promise<AudioHandle> (as prepareAudio's).
// One push or finish at a time per stream; stream.dispose() drops the
// partial track (a call in flight still completes).
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "model/engine.h"

namespace s3d::napi {

class AudioStreamWrap : public Napi::ObjectWrap<AudioStreamWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit AudioStreamWrap(const Napi::CallbackInfo& info);

  // Shared with the worker of the call in flight, so dispose() cannot free the
  // builder under it. Members are destroyed in reverse order: the builder
  // (which uses the engine's thread pool) before the engine.
  struct State {
    std::shared_ptr<const Engine> engine;
    std::unique_ptr<AudioStreamBuilder> builder;
    std::atomic<bool> busy{false};
  };
  std::shared_ptr<State> state_;

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
};

void register_audio_stream_functions(Napi::Env env, Napi::Object exports);

}  // namespace s3d::napi
