// Polyphase windowed-sinc resampler, numerically identical (to float32
// round-off) to torchaudio 0.13 functional.resample with its defaults:
// sinc_interpolation (Hann), lowpass_filter_width 6, rolloff 0.99, gcd
// reduction, output length ceil(new * len / orig). The kernel is built in
// float32 step by step as torchaudio does for a float32 waveform.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/thread_pool.h"

namespace s3d {

class SincResampler {
 public:
  // Kernels are built once per (reduced) rate pair; use get() to share them.
  SincResampler(int orig_freq, int new_freq, int lowpass_filter_width = 6, double rolloff = 0.99);
  static std::shared_ptr<const SincResampler> get(int orig_freq, int new_freq);

  int64_t output_length(int64_t n) const;
  // out must hold output_length(n) floats. pool may be null (serial).
  void process(ThreadPool* pool, const float* in, int64_t n, float* out) const;
  // Outputs [o_begin, o_end) into out[0, o_end - o_begin), from the padded
  // input (padded index p = input index + width(), zeros before it): xp points
  // at padded index xp_origin. Output o reads padded indices
  // [o / phases() * orig() + tap_begin(o % phases()), + reach()) at most, all of
  // which must be present. Used by process() and by the streaming builder
  // (audio/audio_stream.h), so both compute every output the same way.
  void process_range(ThreadPool* pool, const float* xp, int64_t xp_origin, int64_t o_begin, int64_t o_end,
                     float* out) const;
  // Largest (tap_begin(j) + taps read for phase j) over the phases: output
  // block i (outputs i*phases() .. +phases()-1) reads padded indices below i*orig() + reach().
  int64_t reach() const { return reach_; }

  int orig() const { return orig_; }    // after gcd reduction
  int phases() const { return new_; }  // after gcd reduction
  int width() const { return width_; }
  // Non-zero taps of phase j start at padded input offset tap_begin(j).
  int tap_begin(int j) const { return begin_[j]; }
  int tap_count(int j) const { return count_[j]; }
  const float* taps(int j) const { return taps_.data() + offset_[j]; }

 private:
  int orig_, new_, width_;
  int64_t reach_ = 0;
  // torchaudio's kernel row j has 2*width + orig taps applied to the input
  // padded by `width` zeros; outside |t| < lowpass_filter_width the window is
  // clamped and the taps are ~1e-15 of the peak or less, so only the run
  // inside is kept (about 2 * 6 * orig / base_freq taps instead of 2*width + orig).
  std::vector<int> begin_, count_;
  std::vector<size_t> offset_;
  std::vector<float> taps_;  // each row zero-padded to a multiple of 8
};

// Resamples to `target_rate`; same rate copies. Output has ceil(target * n / rate) samples.
std::vector<float> resample(ThreadPool* pool, const float* in, int64_t n, int rate, int target_rate);

}  // namespace s3d
