#include "audio/resample.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <string>

#include "core/error.h"

namespace s3d {

namespace {
constexpr double kPi = 3.14159265358979323846;

// One tap of torchaudio's _get_sinc_resample_kernel as resample() calls it:
// dtype = waveform dtype, so every step is float32 (python scalars rounded to
// float, as torch does for a float tensor op with a scalar). Phase j, kernel
// index k in [0, 2*width + orig). Sets *inside = false where |t| reached the
// clamp: those taps are ~1e-15 of the peak or smaller and are dropped.
float sinc_tap(int j, int64_t k, int orig, int nw, int width, double base_freq, int lpw, bool* inside) {
  const float pi = static_cast<float>(kPi);
  const float idx = static_cast<float>(k - width) / static_cast<float>(orig);
  const float tj = static_cast<float>(-j) / static_cast<float>(nw);
  float t = (tj + idx) * static_cast<float>(base_freq);
  const float lim = static_cast<float>(lpw);
  *inside = t > -lim && t < lim;
  t = std::min(std::max(t, -lim), lim);
  const float c = std::cos(t * pi / lim / 2.f);
  const float window = c * c;
  t *= pi;
  const float scale = static_cast<float>(base_freq / orig);
  const float kern = (t == 0.f) ? 1.f : std::sin(t) / t;
  return kern * (window * scale);
}

// Dot product written as 8 independent lanes so the compiler vectorises it
// without reassociating a single float accumulator.
inline float dot8(const float* w, const float* x, int n8) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int k = 0; k < n8; k += 8)
    for (int l = 0; l < 8; ++l) acc[l] += w[k + l] * x[k + l];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}
}  // namespace

SincResampler::SincResampler(int orig_freq, int new_freq, int lpw, double rolloff) {
  if (orig_freq <= 0 || new_freq <= 0)
    throw Error(ErrorCode::InvalidArgument, "Expected positive sample rates but received " +
                                                std::to_string(orig_freq) + " and " + std::to_string(new_freq));
  const int g = std::gcd(orig_freq, new_freq);
  orig_ = orig_freq / g;
  new_ = new_freq / g;
  const double base_freq = std::min(orig_, new_) * rolloff;
  width_ = static_cast<int>(std::ceil(lpw * static_cast<double>(orig_) / base_freq));
  const int64_t klen = 2 * static_cast<int64_t>(width_) + orig_;

  begin_.resize(new_);
  count_.resize(new_);
  offset_.resize(new_);
  std::vector<float> row;
  for (int j = 0; j < new_; ++j) {
    // |t| < lpw  <=>  |(k - width)/orig - j/new| < lpw / base_freq; search a
    // little wider and keep the run of taps inside the clamp.
    const double centre = width_ + static_cast<double>(orig_) * j / new_;
    const double half = static_cast<double>(orig_) * lpw / base_freq;
    int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(centre - half)) - 2);
    int64_t hi = std::min<int64_t>(klen, static_cast<int64_t>(std::ceil(centre + half)) + 3);
    row.clear();
    int64_t a = -1, b = -1;
    for (int64_t k = lo; k < hi; ++k) {
      bool inside = false;
      row.push_back(sinc_tap(j, k, orig_, new_, width_, base_freq, lpw, &inside));
      if (inside) {
        if (a < 0) a = k - lo;
        b = k - lo + 1;
      }
    }
    if (a < 0) a = b = 0;
    begin_[j] = static_cast<int>(lo + a);
    count_[j] = static_cast<int>(b - a);
    offset_[j] = taps_.size();
    const int64_t padded = (b - a + 7) / 8 * 8;
    for (int64_t k = 0; k < padded; ++k) taps_.push_back(a + k < b ? row[a + k] : 0.f);
    reach_ = std::max<int64_t>(reach_, begin_[j] + padded);
  }
}

std::shared_ptr<const SincResampler> SincResampler::get(int orig_freq, int new_freq) {
  static std::mutex mu;
  static std::map<std::pair<int, int>, std::shared_ptr<const SincResampler>> cache;
  const int g = std::gcd(orig_freq, new_freq);
  const auto key = std::make_pair(orig_freq / g, new_freq / g);
  std::lock_guard<std::mutex> lk(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto r = std::make_shared<const SincResampler>(key.first, key.second);
  if (cache.size() >= 16) cache.clear();  // bounded: a process sees few rates
  cache[key] = r;
  return r;
}

int64_t SincResampler::output_length(int64_t n) const {
  // ceil(new * n / orig) in exact integer arithmetic
  return (static_cast<int64_t>(new_) * n + orig_ - 1) / orig_;
}

void SincResampler::process(ThreadPool* pool, const float* in, int64_t n, float* out) const {
  // torchaudio pads (width, width + orig) with zeros; add 8 more so the
  // rounded-up tap runs never read past the end.
  const int64_t left = width_;
  std::vector<float> xp(static_cast<size_t>(n + 2 * width_ + orig_ + 8), 0.f);
  std::copy(in, in + n, xp.begin() + left);
  process_range(pool, xp.data(), 0, 0, output_length(n), out);
}

void SincResampler::process_range(ThreadPool* pool, const float* xp, int64_t xp_origin, int64_t o_begin,
                                  int64_t o_end, float* out) const {
  auto body = [&](int64_t b, int64_t e, int) {
    int64_t i = b / new_;
    int j = static_cast<int>(b % new_);
    for (int64_t o = b; o < e; ++o) {
      const float* x = xp + (i * orig_ + begin_[j] - xp_origin);
      out[o - o_begin] = dot8(taps_.data() + offset_[j], x, (count_[j] + 7) & ~7);
      if (++j == new_) { j = 0; ++i; }
    }
  };
  if (o_end <= o_begin) return;
  if (pool) pool->parallel_for(o_end - o_begin, 4096, [&](int64_t b, int64_t e, int w) { body(o_begin + b, o_begin + e, w); });
  else body(o_begin, o_end, 0);
}

std::vector<float> resample(ThreadPool* pool, const float* in, int64_t n, int rate, int target_rate) {
  if (rate == target_rate) return std::vector<float>(in, in + n);
  auto r = SincResampler::get(rate, target_rate);
  std::vector<float> out(static_cast<size_t>(r->output_length(n)));
  r->process(pool, in, n, out.data());
  return out;
}

}  // namespace s3d
