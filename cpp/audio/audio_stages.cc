#include "audio/audio_stages.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "audio/audio_features.h"
#include "audio/resample.h"
#include "core/error.h"

namespace s3d {

namespace {

// A 1-D input of any length >= 1 (the signal).
const Tensor& signal_input(const TensorMap& in, const std::string& name) {
  auto it = in.find(name);
  if (it == in.end()) throw Error(ErrorCode::InvalidArgument, "missing stage input \"" + name + "\"");
  if (it->second.shape.size() != 1 || it->second.shape[0] < 1)
    throw Error(ErrorCode::InvalidArgument, "Expected shape (n) with n >= 1 for stage input \"" + name +
                                                "\" but received " + shape_str(it->second.shape));
  return it->second;
}

// A shape-(1,) input holding an integer in [lo, hi].
int64_t integer_input(const TensorMap& in, const std::string& name, int64_t lo, int64_t hi) {
  auto it = in.find(name);
  if (it == in.end()) throw Error(ErrorCode::InvalidArgument, "missing stage input \"" + name + "\"");
  if (it->second.shape != Shape{1})
    throw Error(ErrorCode::InvalidArgument, "Expected shape (1) for stage input \"" + name + "\" but received " +
                                                shape_str(it->second.shape));
  const double v = it->second.data[0];
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::floor(v))
    throw Error(ErrorCode::InvalidArgument, "Expected an integer between " + std::to_string(lo) + " and " +
                                                std::to_string(hi) + " for stage input \"" + name +
                                                "\" but received " + std::to_string(v));
  return static_cast<int64_t>(v);
}

Tensor scalar(double v) {
  Tensor t = Tensor::empty({1});
  t.data[0] = static_cast<float>(v);
  return t;
}

// Engine layout (T, n_mels) -> PyTorch layout (n_mels, T).
Tensor mel_to_torch(const Tensor& tm) {
  const int64_t T = tm.dim(0), M = tm.dim(1);
  Tensor o = Tensor::empty({M, T});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t m = 0; m < M; ++m) o.data[m * T + t] = tm.data[t * M + m];
  return o;
}

// The prepare_audio path on a signal already at the model rate (resampling is a copy).
std::shared_ptr<AudioFeatures> features16k(const AudioFrontEnd& fe, ThreadPool& pool, const Tensor& x) {
  return compute_audio_features(&pool, x.data, x.numel(), fe.sample_rate, fe);
}

}  // namespace

TensorMap run_resample_stage(const AudioFrontEnd& fe, ThreadPool& pool, const TensorMap& in) {
  const Tensor& x = signal_input(in, "samples");
  const int rate = static_cast<int>(integer_input(in, "sample_rate", kMinSampleRate, kMaxSampleRate));
  std::vector<float> y = resample(&pool, x.data, x.numel(), rate, fe.sample_rate);
  Tensor out = Tensor::empty({static_cast<int64_t>(y.size())});
  std::copy(y.begin(), y.end(), out.data);
  return {{"samples16k", out}};
}

TensorMap run_log_mel_stage(const AudioFrontEnd& fe, ThreadPool& pool, const TensorMap& in) {
  return {{"logmel", mel_to_torch(features16k(fe, pool, signal_input(in, "samples16k"))->logmel)}};
}

TensorMap run_deform_window_stage(const AudioFrontEnd& fe, ThreadPool& pool, const TensorMap& in) {
  auto a = features16k(fe, pool, signal_input(in, "samples16k"));
  const int64_t t = integer_input(in, "frame", 0, a->frame_count - 1);
  Tensor w = Tensor::empty({fe.n_mels, fe.window_frames});
  deform_window(*a, t, fe, w.data);
  return {{"window", w}};
}

TensorMap run_audio_features_stage(const AudioFrontEnd& fe, ThreadPool& pool, const TensorMap& in) {
  const Tensor& x = signal_input(in, "samples");
  const int rate = static_cast<int>(integer_input(in, "sample_rate", kMinSampleRate, kMaxSampleRate));
  auto a = compute_audio_features(&pool, x.data, x.numel(), rate, fe);
  return {{"logmel", mel_to_torch(a->logmel)},
          {"frame_count", scalar(static_cast<double>(a->frame_count))},
          {"sample_count16k", scalar(static_cast<double>(a->sample_count16k))}};
}

}  // namespace s3d
