// Log-mel spectrogram matching torchaudio 0.13 MelSpectrogram(power=1,
// center=True, pad_mode="reflect", periodic Hann, norm="slaney",
// mel_scale="slaney") followed by log(max(mel, log_floor)).
#pragma once
#include <cstdint>
#include <vector>

#include "audio/fft.h"
#include "core/model_config.h"
#include "core/thread_pool.h"

namespace s3d {

// torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels,
// sample_rate, norm="slaney", mel_scale="slaney"), float32 like the original;
// row-major (n_freqs, n_mels).
std::vector<float> slaney_mel_filterbank(int n_freqs, float f_min, float f_max, int n_mels, int sample_rate);

class LogMel {
 public:
  explicit LogMel(const AudioFrontEnd& fe);
  // Frames for a signal of n samples (n >= n_fft/2 + 1): 1 + n / hop.
  int64_t frames(int64_t n) const { return 1 + n / hop_; }
  int64_t min_samples() const { return n_fft_ / 2 + 1; }
  // x: n >= min_samples() samples at fe.sample_rate. out: (frames(n), n_mels), channel-last.
  void compute(ThreadPool* pool, const float* x, int64_t n, float* out) const;
  // Frames [t0, t1) of a signal of n samples (n >= min_samples()) into
  // out[0, (t1 - t0) * n_mels): x points at sample x_origin, and every sample
  // the frames read (reflection included) must lie in [x_origin, n). Frames
  // whose span ends inside the signal (t*hop - n_fft/2 + n_fft <= n) read no
  // sample at or after n, so a streaming caller may compute them before n is
  // final. compute() is compute_range over all frames.
  void compute_range(ThreadPool* pool, const float* x, int64_t x_origin, int64_t n, int64_t t0, int64_t t1,
                     float* out) const;
  int n_fft() const { return n_fft_; }
  int hop() const { return hop_; }
  int n_mels() const { return n_mels_; }

 private:
  int n_fft_, hop_, n_mels_, n_freqs_;
  float log_floor_;
  RealFFT fft_;
  std::vector<double> window_;  // periodic Hann (float32 values, as torch builds it)
  std::vector<float> fb_;       // (n_freqs, n_mels)
  // Sparse view of the filterbank: mel m uses bins [lo_[m], lo_[m] + len_[m]).
  std::vector<int> lo_, len_;
  std::vector<size_t> off_;
  std::vector<double> weights_;
};

}  // namespace s3d
