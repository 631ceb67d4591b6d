#include "model/super_resolution.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/ops.h"
#include "model/load_layers.h"
#include "model/weights.h"

namespace s3d {

// The gate logit is kGateGain x out_rgb's 4th output (GATE_GAIN in super_resolution.py:
// it lets Adam move the gate as fast as a colour).
constexpr float kGateGain = 8.f;

SuperResolution::SuperResolution(const Weights& w, const ModelConfig& cfg) : cfg_(cfg) {
  const int c0 = cfg.sr_source_channels[0], c1 = cfg.sr_source_channels[1];
  const int m = cfg.sr_mid_channels, o = cfg.sr_out_channels;
  conv_full_ = load_conv2d(w, "sr_source.conv_full", c0, 3, 3, 1);
  conv_half_ = load_conv2d(w, "sr_source.conv_half", c1, c0, 3, 2);
  mid1_ = load_conv2d(w, "sr.mid1", m, cfg.coarse_channels() + c1, 3, 1);
  mid2_ = load_conv2d(w, "sr.mid2", m, m, 3, 1);
  out1_ = load_conv2d(w, "sr.out1", o, m + c0, 3, 1);
  out2_ = load_conv2d(w, "sr.out2", o, o, 3, 1);
  auto rgb = [&](const std::string& n, int cin, int cout) {
    Conv1x1 c;
    c.w = pack_linear(w.get(n + ".weight", {cout, cin, 1, 1}).data, cout, cin);
    const Tensor& b = w.get(n + ".bias", {cout});
    c.bias.assign(b.data, b.data + cout);
    return c;
  };
  mid_rgb_ = rgb("sr.mid_rgb", m, 3);
  out_rgb_ = rgb("sr.out_rgb", o, cfg.sr_source_gate ? 4 : 3);  // rgb [+ gate logit]
}

void SuperResolution::source(ThreadPool& pool, const float* image, const float* mask, Tensor& full,
                             Tensor& half, Tensor& seen, Tensor& keep) const {
  const int H = cfg_.image_size, c0 = cfg_.sr_source_channels[0], c1 = cfg_.sr_source_channels[1];
  const float slope = cfg_.lrelu_slope;
  if (seen.shape != Shape{H, H, 3} || !seen.defined()) seen = Tensor::empty({H, H, 3});
  const bool with_keep = cfg_.sr_gate_keep;
  if (with_keep && (keep.shape != Shape{H, H, 1} || !keep.defined())) keep = Tensor::empty({H, H, 1});
  // Hole weights per row and per column (hole_weight in super_resolution.py, in float
  // like the reference): the weight of pixel (y, x) is mask * (wy[y] * wx[x]).
  std::vector<float> wy(H, 0.f), wx(H, 0.f);
  if (!cfg_.sr_hole.empty()) {
    const float x0 = cfg_.sr_hole[0], y0 = cfg_.sr_hole[1], x1 = cfg_.sr_hole[2], y1 = cfg_.sr_hole[3];
    const float f = cfg_.sr_hole_feather;
    auto ramp = [f](float c, float lo, float hi) {
      const float d = std::min(c - lo, hi - c);  // signed distance inside
      return f > 0.f ? std::clamp(d / f + 0.5f, 0.f, 1.f) : (d >= 0.f ? 1.f : 0.f);
    };
    for (int i = 0; i < H; ++i) {
      const float c = (static_cast<float>(i) + 0.5f) / static_cast<float>(H);  // pixel centre
      wy[i] = ramp(c, y0, y1);
      wx[i] = ramp(c, x0, x1);
    }
  }
  Tensor x = Tensor::empty({H, H, 3});  // (H, W, 3) in [-1, 1]
  for (int y = 0; y < H; ++y) {
    for (int xx = 0; xx < H; ++xx) {
      const int64_t p = static_cast<int64_t>(y) * H + xx;
      const float hole = mask[p] * (wy[y] * wx[xx]);
      if (with_keep) keep.data[p] = 1.f - hole;
      // image * (1 - hole) + 0.5 * hole in the reference's order; mid-grey is 0 after *2-1.
      for (int k = 0; k < 3; ++k) {
        seen.data[p * 3 + k] = image[p * 3 + k] * (1.f - hole) + 0.5f * hole;
        x.data[p * 3 + k] = seen.data[p * 3 + k] * 2.f - 1.f;
      }
    }
  }
  if (full.shape != Shape{H, H, c0} || !full.defined()) full = Tensor::empty({H, H, c0});
  if (half.shape != Shape{H / 2, H / 2, c1} || !half.defined()) half = Tensor::empty({H / 2, H / 2, c1});
  conv2d(&pool, {{x.data, 3}}, H, H, conv_full_, full.data, Act::LeakyRelu, slope);
  conv2d(&pool, {{full.data, c0}}, H, H, conv_half_, half.data, Act::LeakyRelu, slope);
}

// Three ping-pong buffers cover the six large intermediates (lifetimes:
// x -> h3 in a, h1 -> up2(h2) in b, h2 -> h4 in c).
struct SuperResolution::Scratch {
  Tensor a, b, c, rgb_mid;
};

SuperResolution::~SuperResolution() = default;

std::unique_ptr<SuperResolution::Scratch> SuperResolution::acquire_scratch() const {
  {
    std::lock_guard<std::mutex> lock(scratch_mu_);
    if (!scratch_.empty()) {
      std::unique_ptr<Scratch> s = std::move(scratch_.back());
      scratch_.pop_back();
      return s;
    }
  }
  const int64_t nm = static_cast<int64_t>(2 * cfg_.render_size) * (2 * cfg_.render_size);
  const int64_t nf = static_cast<int64_t>(cfg_.image_size) * cfg_.image_size;
  const int64_t m = cfg_.sr_mid_channels, o = cfg_.sr_out_channels, cc = cfg_.coarse_channels();
  auto s = std::make_unique<Scratch>();
  s->a = Tensor::empty({std::max(nm * cc, nf * o)});
  s->b = Tensor::empty({std::max(nm * m, nf * m)});
  s->c = Tensor::empty({std::max(nm * m, nf * o)});
  s->rgb_mid = Tensor::empty({nm * 3});
  return s;
}

void SuperResolution::release_scratch(std::unique_ptr<Scratch> s) const {
  std::lock_guard<std::mutex> lock(scratch_mu_);
  scratch_.push_back(std::move(s));
}

Tensor SuperResolution::forward(ThreadPool& pool, const Tensor& coarse, const Tensor& full,
                                const Tensor& half, const Tensor& seen, const Tensor& keep) const {
  const int r = cfg_.render_size, hm = 2 * r, H = cfg_.image_size;
  const int cc = cfg_.coarse_channels(), c0 = cfg_.sr_source_channels[0], c1 = cfg_.sr_source_channels[1];
  const int m = cfg_.sr_mid_channels, o = cfg_.sr_out_channels;
  const float slope = cfg_.lrelu_slope;
  check_shape(coarse, {r, r, cc}, "the coarse render");
  check_shape(full, {H, H, c0}, "the SR source features (full)");
  check_shape(half, {hm, hm, c1}, "the SR source features (half)");
  if (cfg_.sr_source_gate) check_shape(seen, {H, H, 3}, "the SR source image (seen)");
  if (cfg_.sr_gate_keep) check_shape(keep, {H, H, 1}, "the SR keep map (1 - mouth hole)");
  const int64_t nm = static_cast<int64_t>(hm) * hm, nf = static_cast<int64_t>(H) * H;

  std::unique_ptr<Scratch> sc = acquire_scratch();
  struct Release {  // hands the buffers back even when a kernel throws
    const SuperResolution* self;
    std::unique_ptr<Scratch>& s;
    ~Release() { self->release_scratch(std::move(s)); }
  } release{this, sc};
  float* x = sc->a.data;
  float* h1 = sc->b.data;
  float* h2 = sc->c.data;
  float* rgb_mid = sc->rgb_mid.data;

  // Image/2: x = up2(coarse); h = lrelu(mid2(lrelu(mid1([x, half])))).
  upsample_bilinear2x(&pool, coarse.data, r, r, cc, x);
  conv2d(&pool, {{x, cc}, {half.data, c1}}, hm, hm, mid1_, h1, Act::LeakyRelu, slope);
  // rgb_mid starts as the skip x[..., :3]; mid_rgb(h) accumulates onto it.
  for (int64_t i = 0; i < nm; ++i)
    for (int k = 0; k < 3; ++k) rgb_mid[i * 3 + k] = x[i * cc + k];
  conv2d(&pool, {{h1, m}}, hm, hm, mid2_, h2, Act::LeakyRelu, slope);
  Epilogue acc;
  acc.bias = mid_rgb_.bias.data();
  acc.accumulate = true;
  gemm(&pool, static_cast<int>(nm), h2, m, mid_rgb_.w, rgb_mid, 3, acc);

  // Image: h = lrelu(out2(lrelu(out1([up2(h), full])))); rgb = out_rgb(h) + up2(rgb_mid).
  float* hu = sc->b.data;  // h1 is dead
  upsample_bilinear2x(&pool, h2, hm, hm, m, hu);
  float* h3 = sc->a.data;  // x is dead
  conv2d(&pool, {{hu, m}, {full.data, c0}}, H, H, out1_, h3, Act::LeakyRelu, slope);
  float* h4 = sc->c.data;  // h2 is dead
  conv2d(&pool, {{h3, o}}, H, H, out2_, h4, Act::LeakyRelu, slope);
  Tensor rgb = Tensor::empty({H, H, 3});
  upsample_bilinear2x(&pool, rgb_mid, hm, hm, 3, rgb.data);
  acc.bias = out_rgb_.bias.data();
  if (!cfg_.sr_source_gate) {
    gemm(&pool, static_cast<int>(nf), h4, o, out_rgb_.w, rgb.data, 3, acc);
    return rgb;
  }
  // Gate: out = out_rgb(h) (nf, 4); gen = out[:3] + up2(rgb_mid); rgb = gen + g * (seen - gen).
  float* out = sc->a.data;  // h3 is dead; nf * 4 <= nf * o
  Epilogue plain;
  plain.bias = out_rgb_.bias.data();
  gemm(&pool, static_cast<int>(nf), h4, o, out_rgb_.w, out, 4, plain);
  const float* src = seen.data;
  const float* kp = cfg_.sr_gate_keep ? keep.data : nullptr;
  float* dst = rgb.data;
  pool.parallel_for(nf, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      float g = 1.f / (1.f + std::exp(-kGateGain * out[i * 4 + 3]));
      if (kp) g *= kp[i];
      for (int k = 0; k < 3; ++k) {
        const float gen = out[i * 4 + k] + dst[i * 3 + k];
        dst[i * 3 + k] = gen + g * (src[i * 3 + k] - gen);
      }
    }
  });
  return rgb;
}

}  // namespace s3d
