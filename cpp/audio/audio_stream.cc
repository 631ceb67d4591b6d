#include "audio/audio_stream.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"

namespace s3d {

AudioStreamBuilder::AudioStreamBuilder(ThreadPool* pool, int sample_rate, const AudioFrontEnd& fe)
    // The front end is checked before LogMel is built from it.
    : pool_(pool), fe_(fe), rate_(sample_rate), lm_((check_audio_front_end(fe), fe)) {
  if (sample_rate < kMinSampleRate || sample_rate > kMaxSampleRate)
    throw Error(ErrorCode::InputAudio, "Expected a sample rate between " + std::to_string(kMinSampleRate) + " and " +
                                           std::to_string(kMaxSampleRate) + " Hz for audio but received " +
                                           std::to_string(sample_rate));
  if (sample_rate != fe.sample_rate) {
    rs_ = SincResampler::get(sample_rate, fe.sample_rate);
    xp_.assign(static_cast<size_t>(rs_->width()), 0.f);  // the left zero padding
  }
}

void AudioStreamBuilder::push(const float* samples, int64_t n) {
  if (finished_) throw Error(ErrorCode::InvalidArgument, "The audio stream is already finished");
  if (n <= 0) return;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(samples[i]))
      throw Error(ErrorCode::InputAudio, std::string("Expected finite audio samples but received ") +
                                             (std::isnan(samples[i]) ? "NaN" : samples[i] > 0 ? "Infinity" : "-Infinity") +
                                             " at index " + std::to_string(n_in_ + i));
  n_in_ += n;
  if (rs_) {
    xp_.insert(xp_.end(), samples, samples + n);
    resample_ready(false);
  } else {
    append16k(samples, n);
  }
  mel_ready(false);
}

// Computes every output whose taps are all known: block i (outputs i*new ..
// i*new + new - 1) once padded indices below i*orig + reach are present, and
// never past the output length of what was pushed so far (a prefix of the
// final output). At the end the input is followed by zeros, as in process().
void AudioStreamBuilder::resample_ready(bool final) {
  const int64_t orig = rs_->orig(), nw = rs_->phases(), reach = rs_->reach();
  int64_t o_end = rs_->output_length(n_in_);
  if (final) {
    if (o_end > 0) {
      const int64_t need = ((o_end - 1) / nw) * orig + reach;  // padded end the last block reads
      const int64_t have = xp_origin_ + static_cast<int64_t>(xp_.size());
      if (need > have) xp_.resize(xp_.size() + static_cast<size_t>(need - have), 0.f);
    }
  } else {
    const int64_t known = rs_->width() + n_in_;  // padded indices [0, known) are final
    const int64_t blocks = known >= reach ? (known - reach) / orig + 1 : 0;
    o_end = std::min(o_end, blocks * nw);
  }
  if (o_end > n16_) {
    std::vector<float> y(static_cast<size_t>(o_end - n16_));
    rs_->process_range(pool_, xp_.data(), xp_origin_, n16_, o_end, y.data());
    append16k(y.data(), static_cast<int64_t>(y.size()));
  }
  // Pending outputs start at block n16_ / new and read nothing before its first tap.
  const int64_t keep = std::min<int64_t>((n16_ / nw) * orig, xp_origin_ + static_cast<int64_t>(xp_.size()));
  if (keep > xp_origin_) {
    xp_.erase(xp_.begin(), xp_.begin() + (keep - xp_origin_));
    xp_origin_ = keep;
  }
}

void AudioStreamBuilder::append16k(const float* y, int64_t m) {
  y_.insert(y_.end(), y, y + m);
  n16_ += m;
}

// Frame t reads samples [t*hop - n_fft/2, + n_fft) (reflected at both ends):
// before the end it is final as soon as that span is present. At the end a
// signal shorter than n_fft/2 + 1 is zero-padded as compute_audio_features does.
void AudioStreamBuilder::mel_ready(bool final) {
  const int64_t hop = lm_.hop(), n_fft = lm_.n_fft(), pad = n_fft / 2, M = lm_.n_mels();
  int64_t n = n16_;
  int64_t t_end;
  if (final) {
    if (n < lm_.min_samples()) {
      y_.resize(y_.size() + static_cast<size_t>(lm_.min_samples() - n), 0.f);
      n = lm_.min_samples();
    }
    t_end = lm_.frames(n);
  } else {
    if (n < lm_.min_samples() || n < n_fft - pad) return;
    t_end = (n - n_fft + pad) / hop + 1;  // frames with t*hop - pad + n_fft <= n
  }
  if (t_end > mel_next_) {
    std::vector<float> block(static_cast<size_t>((t_end - mel_next_) * M));
    lm_.compute_range(pool_, y_.data(), y_origin_, n, mel_next_, t_end, block.data());
    mel_blocks_.push_back(std::move(block));
    mel_starts_.push_back(mel_next_);
    mel_next_ = t_end;
    if (!final) update_ready();
  }
  // Keep a frame's worth of margin before the next frame's span: at the end a
  // frame may reflect back to just before its own start.
  const int64_t keep = std::min<int64_t>(std::max<int64_t>(0, mel_next_ * hop - pad - n_fft),
                                         y_origin_ + static_cast<int64_t>(y_.size()));
  if (keep > y_origin_) {
    y_.erase(y_.begin(), y_.begin() + (keep - y_origin_));
    y_origin_ = keep;
  }
}

std::shared_ptr<AudioFeatures> AudioStreamBuilder::finish() {
  if (finished_) throw Error(ErrorCode::InvalidArgument, "The audio stream is already finished");
  if (n_in_ <= 0) throw Error(ErrorCode::InputAudio, "Expected non-empty audio but received 0 samples");
  finished_ = true;
  if (rs_) resample_ready(true);
  const int64_t n16 = n16_;
  mel_ready(true);
  std::vector<float>().swap(xp_);
  std::vector<float>().swap(y_);

  auto a = std::make_shared<AudioFeatures>();
  a->sample_count16k = n16;
  a->frame_count = (n16 * fe_.fps + fe_.sample_rate - 1) / fe_.sample_rate;
  a->n_mels = fe_.n_mels;
  a->mel_frames = mel_next_;
  a->mel_origin = mel_origin_;
  a->logmel = Tensor::empty({a->mel_frames - mel_origin_, static_cast<int64_t>(fe_.n_mels)});
  float* dst = a->logmel.data;
  for (auto& b : mel_blocks_) {  // copied block by block, each freed once copied
    std::memcpy(dst, b.data(), b.size() * sizeof(float));
    dst += b.size();
    std::vector<float>().swap(b);
  }
  mel_blocks_.clear();
  mel_starts_.clear();
  return a;
}

void AudioStreamBuilder::update_ready() {
  // Frame t also has to exist in the final track: t < ceil(n16 fps / sr) for
  // the samples already produced (always implied by a complete window; kept as
  // a guard for unusual front ends).
  const int64_t frames_now = (n16_ * fe_.fps + fe_.sample_rate - 1) / fe_.sample_rate;
  while (ready_ < frames_now && deform_window_start(ready_, fe_) + fe_.window_frames <= mel_next_) ++ready_;
}

std::shared_ptr<AudioFeatures> AudioStreamBuilder::window_features(int64_t t) const {
  if (finished_ || t < 0 || t >= ready_)
    throw Error(ErrorCode::InvalidArgument, "Expected a video frame whose audio window is complete (0 to " +
                                                std::to_string(ready_ - 1) + ") but received " + std::to_string(t));
  const int64_t start = deform_window_start(t, fe_);
  const int64_t c0 = std::max<int64_t>(0, start), c1 = start + fe_.window_frames;  // c1 <= mel_next_
  if (c0 < mel_origin_)
    throw Error(ErrorCode::InvalidArgument, "The audio window of frame " + std::to_string(t) + " was discarded");
  const int64_t M = fe_.n_mels;
  auto a = std::make_shared<AudioFeatures>();
  a->sample_count16k = n16_;
  a->frame_count = t + 1;
  a->n_mels = fe_.n_mels;
  a->mel_frames = mel_next_;
  a->mel_origin = c0;
  a->logmel = Tensor::empty({std::max<int64_t>(0, c1 - c0), M});
  // Blocks are in column order; the window is near the end, so search from the back.
  for (size_t i = mel_blocks_.size(); i-- > 0 && c1 > c0;) {
    const int64_t b0 = mel_starts_[i], b1 = b0 + static_cast<int64_t>(mel_blocks_[i].size()) / M;
    const int64_t lo = std::max(b0, c0), hi = std::min(b1, c1);
    if (hi > lo)
      std::memcpy(a->logmel.data + (lo - c0) * M, mel_blocks_[i].data() + (lo - b0) * M,
                  static_cast<size_t>((hi - lo) * M) * sizeof(float));
    if (b0 <= c0) break;
  }
  return a;
}

void AudioStreamBuilder::discard_before_frame(int64_t t) {
  if (finished_ || t <= 0) return;
  const int64_t col = deform_window_start(t, fe_);
  const int64_t M = fe_.n_mels;
  size_t drop = 0;
  while (drop < mel_blocks_.size() &&
         mel_starts_[drop] + static_cast<int64_t>(mel_blocks_[drop].size()) / M <= col)
    ++drop;
  if (drop == 0) return;
  mel_blocks_.erase(mel_blocks_.begin(), mel_blocks_.begin() + static_cast<std::ptrdiff_t>(drop));
  mel_starts_.erase(mel_starts_.begin(), mel_starts_.begin() + static_cast<std::ptrdiff_t>(drop));
  mel_origin_ = mel_starts_.empty() ? mel_next_ : mel_starts_.front();
}

}  // namespace s3d
