// Streaming front end: the same features as compute_audio_features
// (audio/audio_features.h), fed in chunks of any size, so a long recording
// never needs its samples in memory at once. Each chunk is resampled as it
// arrives (the resampler's filter history is carried across chunks) and every
// log-mel frame whose span is complete is computed at once; only the log-mel
// track grows with the input. Every output sample and frame is computed by the
// same code on the same values as the one-shot path, so the result is
// bit-identical for any chunking.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "audio/audio_features.h"
#include "audio/log_mel.h"
#include "audio/resample.h"
#include "core/model_config.h"
#include "core/thread_pool.h"

namespace s3d {

class AudioStreamBuilder {
 public:
  // Throws Error(InputAudio) for a sample rate outside [8000, 192000],
  // Error(InvalidArgument) for a bad front end. pool may be null (serial) and
  // must outlive the builder.
  AudioStreamBuilder(ThreadPool* pool, int sample_rate, const AudioFrontEnd& fe);

  // Mono samples at the stream's rate. Throws Error(InputAudio) for a
  // non-finite sample (index counted from the start of the stream; nothing of
  // the chunk is kept then), Error(InvalidArgument) after finish().
  void push(const float* samples, int64_t n);

  // The features of everything pushed; Error(InputAudio) when nothing was.
  // The builder is spent afterwards.
  std::shared_ptr<AudioFeatures> finish();

  int sample_rate() const { return rate_; }
  int64_t samples_pushed() const { return n_in_; }
  int64_t samples16k() const { return n16_; }
  bool finished() const { return finished_; }
  // Log-mel frames computed so far (final: identical to the finished track's).
  int64_t mel_frames() const { return mel_next_; }

  // Live rendering (ts/live.ts). Video frames [0, frames_ready()) can be
  // rendered before the stream ends: every column of their deformation window
  // (deform_window_start(t) + [0, window_frames)) is computed, so the window is
  // the one the finished track gives. Monotone; 0 after finish().
  int64_t frames_ready() const { return finished_ ? 0 : ready_; }
  // Features holding only frame t's window (t < frames_ready(), else
  // Error(InvalidArgument)): render_frame(..., *features, t, ...) renders
  // exactly what it renders from the finished track.
  std::shared_ptr<AudioFeatures> window_features(int64_t t) const;
  // Frees the log-mel columns no frame >= t needs (before its window; whole
  // computed blocks only). finish() then returns a track holding columns from
  // mel_origin on, which renders frames >= t as the whole track does.
  void discard_before_frame(int64_t t);

 private:
  void resample_ready(bool final);
  void append16k(const float* y, int64_t m);
  void mel_ready(bool final);

  ThreadPool* pool_;
  AudioFrontEnd fe_;
  int rate_;
  std::shared_ptr<const SincResampler> rs_;  // null when the rate is the model rate
  LogMel lm_;
  bool finished_ = false;
  int64_t n_in_ = 0;  // samples pushed

  // Resampler input, padded as SincResampler::process pads it: xp_ holds padded
  // indices [xp_origin_, xp_origin_ + xp_.size()).
  std::vector<float> xp_;
  int64_t xp_origin_ = 0;
  int64_t n16_ = 0;  // 16 kHz samples produced

  // 16 kHz samples not yet needed by a pending log-mel frame: y_ holds
  // indices [y_origin_, y_origin_ + y_.size()).
  std::vector<float> y_;
  int64_t y_origin_ = 0;
  int64_t mel_next_ = 0;                       // first frame not yet computed
  // Frames [mel_origin_, mel_next_) in order: block i starts at column mel_starts_[i].
  std::vector<std::vector<float>> mel_blocks_;
  std::vector<int64_t> mel_starts_;
  int64_t mel_origin_ = 0;
  int64_t ready_ = 0;  // frames_ready()
  void update_ready();
};

}  // namespace s3d
