// The log-mel track of one recording (DESIGN §3.5): resampled to the model
// rate, log-mel computed once; per-frame windows are cut on demand.
#pragma once
#include <cstdint>
#include <memory>

#include "core/model_config.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace s3d {

struct AudioFeatures {
  int64_t sample_count16k = 0;  // samples after resampling to fe.sample_rate
  int64_t frame_count = 0;      // video frames: ceil(sample_count16k * fps / sample_rate)
  int64_t mel_frames = 0;       // 1 + max(sample_count16k, n_fft/2 + 1) / hop
  int n_mels = 0;
  // logmel holds columns [mel_origin, mel_origin + logmel.dim(0)) of the track
  // (all of them, mel_origin 0, except for the live renderer's windows and
  // trimmed streams: audio/audio_stream.h).
  int64_t mel_origin = 0;
  Tensor logmel;                // (rows, n_mels), channel-last
};

constexpr int kMinSampleRate = 8000;
constexpr int kMaxSampleRate = 192000;

// Throws Error(InvalidArgument) unless fe is a usable "logmel" front end.
void check_audio_front_end(const AudioFrontEnd& fe);

// Throws Error(InputAudio) for empty audio, non-finite samples or a sample
// rate outside [8000, 192000]; Error(InvalidArgument) for a bad front end.
std::shared_ptr<AudioFeatures> compute_audio_features(ThreadPool* pool, const float* samples, int64_t count,
                                                      int sample_rate, const AudioFrontEnd& fe);

// First log-mel column of video frame t's deformation window: the rounded
// centre of the frame's span, (t + 1/2) * sr / (fps * hop), minus half a
// window. Default config: floor((32 t + 21) / 10) - 16.
int64_t deform_window_start(int64_t t, const AudioFrontEnd& fe);

// (n_mels, window_frames) window in PyTorch layout for video frame t
// (0 <= t < frame_count, else Error InvalidArgument); columns outside the
// track are log(log_floor). Error(Internal) if a column inside the track is
// not held (before mel_origin or past the rows of logmel).
void deform_window(const AudioFeatures& a, int64_t t, const AudioFrontEnd& fe, float* out);

}  // namespace s3d
