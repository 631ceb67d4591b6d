#include "model/audio_net.h"

#include <string>

#include "model/weights.h"

namespace s3d {

AudioNet::AudioNet(const Weights& w, const ModelConfig& cfg) : cfg_(cfg) {
  const int c = cfg.audio_channels;
  const int strides[4] = {1, 2, 2, 1};
  for (int l = 0; l < 4; ++l) {
    const std::string n = "audio_net.convs." + std::to_string(l);
    Conv1d& cv = convs_[l];
    cv.cin = l == 0 ? cfg.audio.n_mels : c;
    cv.cout = c;
    cv.stride = strides[l];
    const Tensor& wt = w.get(n + ".weight", {cv.cout, cv.cin, 3});
    // (cout, cin, 3) -> (cout, 3 * cin) with column tap * cin + ci.
    std::vector<float> r(static_cast<size_t>(cv.cout) * 3 * cv.cin);
    for (int o = 0; o < cv.cout; ++o)
      for (int i = 0; i < cv.cin; ++i)
        for (int t = 0; t < 3; ++t)
          r[(static_cast<size_t>(o) * 3 + t) * cv.cin + i] = wt.data[(static_cast<size_t>(o) * cv.cin + i) * 3 + t];
    cv.w = pack_linear(r.data(), cv.cout, 3 * cv.cin);
    const Tensor& b = w.get(n + ".bias", {cv.cout});
    cv.bias.assign(b.data, b.data + cv.cout);
  }
  code_ = pack_linear(w.get("audio_net.code.weight", {cfg.audio_code, c}).data, cfg.audio_code, c);
  const Tensor& cb = w.get("audio_net.code.bias", {cfg.audio_code});
  code_b_.assign(cb.data, cb.data + cfg.audio_code);
}

void AudioNet::forward(ThreadPool* pool, const float* mel, Tensor& tokens, Tensor& code) const {
  const int nm = cfg_.audio.n_mels, win = cfg_.audio.window_frames;
  // Time-major (window, n_mels) with the fixed affine applied.
  std::vector<float> x(static_cast<size_t>(win) * nm);
  for (int m = 0; m < nm; ++m)
    for (int t = 0; t < win; ++t) x[static_cast<size_t>(t) * nm + m] = (mel[m * win + t] + kMelShift) * kMelScale;

  int len = win;
  std::vector<float> col, y;
  for (int l = 0; l < 4; ++l) {
    const Conv1d& cv = convs_[l];
    const int out_len = (len - 1) / cv.stride + 1;  // k3, pad 1
    // im2col: row t = [x[t*s-1], x[t*s], x[t*s+1]], zeros outside.
    col.assign(static_cast<size_t>(out_len) * 3 * cv.cin, 0.f);
    for (int t = 0; t < out_len; ++t)
      for (int tap = 0; tap < 3; ++tap) {
        const int src = t * cv.stride + tap - 1;
        if (src < 0 || src >= len) continue;
        std::copy(x.begin() + static_cast<size_t>(src) * cv.cin, x.begin() + static_cast<size_t>(src + 1) * cv.cin,
                  col.begin() + (static_cast<size_t>(t) * 3 + tap) * cv.cin);
      }
    y.resize(static_cast<size_t>(out_len) * cv.cout);
    Epilogue ep;
    ep.bias = cv.bias.data();
    ep.act = l < 3 ? Act::LeakyRelu : Act::None;
    ep.slope = cfg_.lrelu_slope;
    gemm(pool, out_len, col.data(), 3 * cv.cin, cv.w, y.data(), cv.cout, ep);
    x.swap(y);
    len = out_len;
  }

  const int c = cfg_.audio_channels;
  if (tokens.shape != Shape{len, c} || !tokens.defined()) tokens = Tensor::empty({len, c});
  std::copy(x.begin(), x.begin() + static_cast<size_t>(len) * c, tokens.data);
  std::vector<float> mean(c, 0.f);
  for (int t = 0; t < len; ++t)
    for (int k = 0; k < c; ++k) mean[k] += x[static_cast<size_t>(t) * c + k];
  for (int k = 0; k < c; ++k) mean[k] /= static_cast<float>(len);
  if (code.shape != Shape{cfg_.audio_code} || !code.defined()) code = Tensor::empty({cfg_.audio_code});
  Epilogue ep;
  ep.bias = code_b_.data();
  gemm(pool, 1, mean.data(), c, code_, code.data, cfg_.audio_code, ep);
}

}  // namespace s3d
