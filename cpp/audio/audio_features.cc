#include "audio/audio_features.h"

#include <cmath>
#include <string>
#include <vector>

#include "audio/log_mel.h"
#include "audio/resample.h"
#include "core/error.h"

namespace s3d {

void check_audio_front_end(const AudioFrontEnd& fe) {
  if (fe.kind != "logmel")
    throw Error(ErrorCode::InvalidArgument,
                "Expected audio front end kind \"logmel\" but received \"" + fe.kind + "\"");
  if (fe.sample_rate < kMinSampleRate || fe.sample_rate > kMaxSampleRate || fe.fps < 1 || fe.window_frames < 1)
    throw Error(ErrorCode::InvalidArgument, "Expected a valid audio front end (sample_rate, fps, window_frames)");
}

std::shared_ptr<AudioFeatures> compute_audio_features(ThreadPool* pool, const float* samples, int64_t count,
                                                      int sample_rate, const AudioFrontEnd& fe) {
  check_audio_front_end(fe);
  if (count <= 0 || samples == nullptr)
    throw Error(ErrorCode::InputAudio, "Expected non-empty audio but received 0 samples");
  if (sample_rate < kMinSampleRate || sample_rate > kMaxSampleRate)
    throw Error(ErrorCode::InputAudio, "Expected a sample rate between " + std::to_string(kMinSampleRate) + " and " +
                                           std::to_string(kMaxSampleRate) + " Hz for audio but received " +
                                           std::to_string(sample_rate));
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(samples[i]))
      throw Error(ErrorCode::InputAudio, std::string("Expected finite audio samples but received ") +
                                             (std::isnan(samples[i]) ? "NaN" : samples[i] > 0 ? "Infinity" : "-Infinity") +
                                             " at index " + std::to_string(i));

  std::vector<float> x = resample(pool, samples, count, sample_rate, fe.sample_rate);
  auto a = std::make_shared<AudioFeatures>();
  a->sample_count16k = static_cast<int64_t>(x.size());
  a->frame_count = (a->sample_count16k * fe.fps + fe.sample_rate - 1) / fe.sample_rate;
  a->n_mels = fe.n_mels;

  LogMel lm(fe);
  if (static_cast<int64_t>(x.size()) < lm.min_samples()) x.resize(lm.min_samples(), 0.f);  // zero-pad at end
  const int64_t n = static_cast<int64_t>(x.size());
  a->mel_frames = lm.frames(n);
  a->logmel = Tensor::empty({a->mel_frames, fe.n_mels});
  lm.compute(pool, x.data(), n, a->logmel.data);
  return a;
}

int64_t deform_window_start(int64_t t, const AudioFrontEnd& fe) {
  const int64_t fh = static_cast<int64_t>(fe.fps) * fe.hop;
  const int64_t num = (2 * t + 1) * fe.sample_rate + fh;  // > 0 for t >= 0
  return num / (2 * fh) - fe.window_frames / 2;
}

void deform_window(const AudioFeatures& a, int64_t t, const AudioFrontEnd& fe, float* out) {
  if (t < 0 || t >= a.frame_count)
    throw Error(ErrorCode::InvalidArgument, "Expected a video frame index in [0, " + std::to_string(a.frame_count) +
                                                ") for the audio window but received " + std::to_string(t));
  if (fe.n_mels != a.n_mels)
    throw Error(ErrorCode::InvalidArgument, "Expected " + std::to_string(a.n_mels) + " mel bins for the audio window but received " +
                                                std::to_string(fe.n_mels));
  const int W = fe.window_frames, M = a.n_mels;
  const int64_t start = deform_window_start(t, fe);
  const int64_t held_end = a.mel_origin + (a.logmel.numel() > 0 ? a.logmel.dim(0) : 0);
  const float fill = std::log(fe.log_floor);
  for (int c = 0; c < W; ++c) {
    const int64_t col = start + c;
    if (col < 0 || col >= a.mel_frames) {
      for (int m = 0; m < M; ++m) out[static_cast<size_t>(m) * W + c] = fill;
    } else {
      if (col < a.mel_origin || col >= held_end)
        throw Error(ErrorCode::Internal, "The audio window of frame " + std::to_string(t) + " needs log-mel column " +
                                             std::to_string(col) + ", which is not held (columns " +
                                             std::to_string(a.mel_origin) + " to " + std::to_string(held_end - 1) + ")");
      const float* src = a.logmel.data + (col - a.mel_origin) * M;
      for (int m = 0; m < M; ++m) out[static_cast<size_t>(m) * W + c] = src[m];
    }
  }
}

}  // namespace s3d
