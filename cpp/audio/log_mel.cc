#include "audio/log_mel.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace s3d {

namespace {

// torch.linspace for float32 (RangeFactoriesKernel: step in float, first half
// counted from start, second half back from end).
std::vector<float> linspace_f32(float start, float end, int steps) {
  std::vector<float> v(steps);
  if (steps == 1) { v[0] = start; return v; }
  const float step = (end - start) / static_cast<float>(steps - 1);
  const int half = steps / 2;
  for (int i = 0; i < steps; ++i)
    v[i] = i < half ? start + step * static_cast<float>(i) : end - step * static_cast<float>(steps - i - 1);
  return v;
}

double hz_to_mel_slaney(double f) {  // python float math, as torchaudio._hz_to_mel
  const double f_sp = 200.0 / 3;
  double mels = f / f_sp;
  const double min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  if (f >= min_log_hz) mels = min_log_mel + std::log(f / min_log_hz) / logstep;
  return mels;
}

float mel_to_hz_slaney(float m) {  // float32 tensor math, as torchaudio._mel_to_hz
  const float f_sp = static_cast<float>(200.0 / 3);
  const float min_log_hz = 1000.f;
  const float min_log_mel = static_cast<float>(1000.0 / (200.0 / 3));
  const float logstep = static_cast<float>(std::log(6.4) / 27.0);
  if (m >= min_log_mel) return min_log_hz * std::exp(logstep * (m - min_log_mel));
  return 0.f + f_sp * m;
}

}  // namespace

std::vector<float> slaney_mel_filterbank(int n_freqs, float f_min, float f_max, int n_mels, int sample_rate) {
  const std::vector<float> all_freqs = linspace_f32(0.f, static_cast<float>(sample_rate / 2), n_freqs);
  const float m_min = static_cast<float>(hz_to_mel_slaney(f_min));
  const float m_max = static_cast<float>(hz_to_mel_slaney(f_max));
  std::vector<float> f_pts = linspace_f32(m_min, m_max, n_mels + 2);
  for (float& f : f_pts) f = mel_to_hz_slaney(f);
  std::vector<float> fb(static_cast<size_t>(n_freqs) * n_mels);
  for (int i = 0; i < n_freqs; ++i)
    for (int m = 0; m < n_mels; ++m) {
      const float down = (-1.0f * (f_pts[m] - all_freqs[i])) / (f_pts[m + 1] - f_pts[m]);
      const float up = (f_pts[m + 2] - all_freqs[i]) / (f_pts[m + 2] - f_pts[m + 1]);
      const float enorm = 2.0f / (f_pts[m + 2] - f_pts[m]);
      fb[static_cast<size_t>(i) * n_mels + m] = std::max(0.f, std::min(down, up)) * enorm;
    }
  return fb;
}

LogMel::LogMel(const AudioFrontEnd& fe)
    : n_fft_(fe.n_fft), hop_(fe.hop), n_mels_(fe.n_mels), n_freqs_(fe.n_fft / 2 + 1),
      log_floor_(fe.log_floor), fft_(fe.n_fft) {
  if (fe.n_fft < 2 || fe.hop < 1 || fe.n_mels < 1 || !(fe.log_floor > 0.f))
    throw Error(ErrorCode::InvalidArgument, "Expected n_fft >= 2, hop >= 1, n_mels >= 1 and log_floor > 0 for the audio front end");
  // torch.hann_window(n, periodic=True) = hamming_window(n + 1, alpha=beta=0.5)[:n],
  // computed in float32: 0.5 - 0.5 * cos(i * float(2 pi / n)).
  window_.resize(n_fft_);
  const float step = static_cast<float>(3.14159265358979323846 * 2.0 / n_fft_);
  for (int i = 0; i < n_fft_; ++i) {
    const float c = std::cos(static_cast<float>(i) * step);
    window_[i] = static_cast<double>(c * -0.5f + 0.5f);
  }
  fb_ = slaney_mel_filterbank(n_freqs_, fe.f_min, fe.f_max, n_mels_, fe.sample_rate);
  lo_.resize(n_mels_);
  len_.resize(n_mels_);
  off_.resize(n_mels_);
  for (int m = 0; m < n_mels_; ++m) {
    int a = 0, b = n_freqs_;
    while (a < b && fb_[static_cast<size_t>(a) * n_mels_ + m] == 0.f) ++a;
    while (b > a && fb_[static_cast<size_t>(b - 1) * n_mels_ + m] == 0.f) --b;
    lo_[m] = a;
    len_[m] = b - a;
    off_[m] = weights_.size();
    for (int i = a; i < b; ++i) weights_.push_back(fb_[static_cast<size_t>(i) * n_mels_ + m]);
  }
}

void LogMel::compute(ThreadPool* pool, const float* x, int64_t n, float* out) const {
  compute_range(pool, x, 0, n, 0, frames(n), out);
}

void LogMel::compute_range(ThreadPool* pool, const float* x, int64_t x_origin, int64_t n, int64_t t0, int64_t t1,
                           float* out) const {
  const int64_t pad = n_fft_ / 2;
  if (n <= pad)
    throw Error(ErrorCode::InvalidArgument, "Expected at least " + std::to_string(pad + 1) +
                                                " samples for the log-mel but received " + std::to_string(n));
  if (t1 <= t0) return;
  const int64_t T = t1 - t0;
  const int workers = pool ? pool->size() : 1;
  // Per-worker scratch: frame (n_fft doubles), FFT scratch, spectrum magnitude.
  const size_t frame_sz = n_fft_, fft_sz = fft_.scratch_size(), spec_sz = n_freqs_;
  std::vector<double> frames_buf(frame_sz * workers), mag_buf(spec_sz * workers);
  std::vector<cdouble> fft_buf((fft_sz + spec_sz) * workers);
  const double logf = std::log(static_cast<double>(log_floor_));

  auto body = [&](int64_t b, int64_t e, int w) {
    double* frame = frames_buf.data() + frame_sz * w;
    double* mag = mag_buf.data() + spec_sz * w;
    cdouble* spec = fft_buf.data() + (fft_sz + spec_sz) * w;
    cdouble* scratch = spec + spec_sz;
    for (int64_t tt = b; tt < e; ++tt) {
      const int64_t t = t0 + tt;
      // Frame t covers padded[t*hop, t*hop + n_fft), padded = reflect-pad(x, n_fft/2).
      const int64_t s0 = t * hop_ - pad;
      for (int i = 0; i < n_fft_; ++i) {
        int64_t k = s0 + i;
        if (k < 0) k = -k;
        else if (k >= n) k = 2 * (n - 1) - k;
        frame[i] = static_cast<double>(x[k - x_origin]) * window_[i];
      }
      fft_.forward(frame, spec, scratch);
      // sqrt(re^2 + im^2), not std::abs (hypot is several times slower; no overflow risk here).
      for (int f = 0; f < n_freqs_; ++f) mag[f] = std::sqrt(spec[f].real() * spec[f].real() + spec[f].imag() * spec[f].imag());
      float* o = out + tt * n_mels_;
      for (int m = 0; m < n_mels_; ++m) {
        const double* wt = weights_.data() + off_[m];
        const double* mg = mag + lo_[m];
        double acc = 0.0;
        for (int i = 0; i < len_[m]; ++i) acc += wt[i] * mg[i];
        o[m] = static_cast<float>(acc > log_floor_ ? std::log(acc) : logf);
      }
    }
  };
  if (pool) pool->parallel_for(T, 16, body);
  else body(0, T, 0);
}

}  // namespace s3d
