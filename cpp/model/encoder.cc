#include "model/encoder.h"

#include <string>

#include "kernels/ops.h"
#include "model/load_layers.h"
#include "model/weights.h"

namespace s3d {


Encoder::Encoder(const Weights& w, const ModelConfig& cfg) : cfg_(cfg) {
  const auto& ch = cfg.enc_channels;
  const int p = cfg.pyramid_channels();
  for (int i = 0; i < 4; ++i) {
    const std::string n = "encoder.down." + std::to_string(i);
    down1_[i] = load_conv2d(w, n + ".conv1", ch[i], i == 0 ? 5 : ch[i - 1], 3, 2);
    down2_[i] = load_conv2d(w, n + ".conv2", ch[i], ch[i], 3, 1);
  }
  for (int i = 0; i < 3; ++i) {
    up_[i] = load_conv2d(w, "encoder.up." + std::to_string(i) + ".conv", p, p, 3, 1);
    lateral_[i] = load_conv2d(w, "encoder.lateral." + std::to_string(i), p, p + ch[i], 1, 1);
  }
}

std::array<Tensor, 4> Encoder::forward(ThreadPool& pool, const float* image, const float* mask) const {
  const int H = cfg_.image_size;
  const float slope = cfg_.lrelu_slope;
  const int p = cfg_.pyramid_channels();

  // [(image*2-1)*mask, x, y] with pixel-centre coordinates in [-1, 1], as
  // encoder.pixel_coords computes them in fp32.
  Tensor x = Tensor::empty({H, H, 5});
  std::vector<float> c(H);
  for (int i = 0; i < H; ++i) c[i] = (static_cast<float>(i) + 0.5f) / static_cast<float>(H) * 2.f - 1.f;
  pool.parallel_for(H, 8, [&](int64_t y0, int64_t y1, int) {
    for (int64_t y = y0; y < y1; ++y)
      for (int xx = 0; xx < H; ++xx) {
        const int64_t i = y * H + xx;
        const float m = mask[i];
        float* o = x.data + i * 5;
        for (int k = 0; k < 3; ++k) o[k] = (image[i * 3 + k] * 2.f - 1.f) * m;
        o[3] = c[xx];
        o[4] = c[y];
      }
  });

  // Down path: D^i at image / 2^(i+1).
  std::array<Tensor, 4> d;
  const float* in = x.data;
  int cin = 5, s = H;
  for (int i = 0; i < 4; ++i) {
    const int co = cfg_.enc_channels[i], so = s / 2;
    Tensor t = Tensor::empty({so, so, co});
    conv2d(&pool, {{in, cin}}, s, s, down1_[i], t.data, Act::LeakyRelu, slope);
    d[i] = Tensor::empty({so, so, co});
    conv2d(&pool, {{t.data, co}}, so, so, down2_[i], d[i].data, Act::LeakyRelu, slope);
    in = d[i].data;
    cin = co;
    s = so;
  }

  // Top-down pyramid: F^i = lateral_i([lrelu(conv(up2(F^{i+1}))), D^i]).
  std::array<Tensor, 4> f;
  f[3] = d[3];
  for (int i = 2; i >= 0; --i) {
    const int sl = static_cast<int>(f[i + 1].dim(0)), sh = 2 * sl;
    Tensor u = Tensor::empty({sh, sh, p});
    upsample_bilinear2x(&pool, f[i + 1].data, sl, sl, p, u.data);
    Tensor t = Tensor::empty({sh, sh, p});
    conv2d(&pool, {{u.data, p}}, sh, sh, up_[i], t.data, Act::LeakyRelu, slope);
    f[i] = Tensor::empty({sh, sh, p});
    conv2d(&pool, {{t.data, p}, {d[i].data, cfg_.enc_channels[i]}}, sh, sh, lateral_[i], f[i].data,
           Act::None);
  }
  return f;
}

}  // namespace s3d
