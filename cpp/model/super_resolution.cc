#include "model/super_resolution.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "kernels/ops.h"
#include "model/load_layers.h"
#include "model/weights.h"

namespace s3d {

// The gate logit is kGateGain x out_rgb's 4th output (GATE_GAIN in super_resolution.py:
// it lets Adam move the gate as fast as a colour).
constexpr float kGateGain = 8.f;

SuperResolution::SuperResolution(const Weights& w, const ModelConfig& cfg, Precision precision) : cfg_(cfg) {
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
  if (precision == Precision::Fast)
    for (Conv2d* c : {&mid1_, &mid2_, &out1_, &out2_}) add_bf16_panels(*c);
}

void SuperResolution::source(ThreadPool& pool, const float* image, const float* mask, Tensor& full,
                             Tensor& half, Tensor& seen, Tensor& keep) const {
  const int H = cfg_.image_size, c0 = cfg_.sr_source_channels[0], c1 = cfg_.sr_source_channels[1];
  const float slope = cfg_.lrelu_slope;
  if (seen.shape != Shape{H, H, 3} || !seen.defined()) seen = Tensor::empty({H, H, 3});
  const bool with_keep = cfg_.sr_paste_source;
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
// x -> h3 in a, h1 -> up2(h2) in b, h2 -> h4 in c); gate holds the gate logits
// (sr_source_gate); the crop_*, gen and region_* buffers serve forward_window.
struct SuperResolution::Scratch {
  Tensor a, b, c, rgb_mid, gate;
  Tensor crop_coarse, crop_half, region_full, gen;
  Tensor region_hu, region_h;
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
  if (cfg_.sr_source_gate) s->gate = Tensor::empty({nf});
  return s;
}

void SuperResolution::release_scratch(std::unique_ptr<Scratch> s) const {
  std::lock_guard<std::mutex> lock(scratch_mu_);
  scratch_.push_back(std::move(s));
}

// Hands the scratch back even when a kernel throws.
struct SuperResolution::ScratchLease {
  const SuperResolution* self;
  std::unique_ptr<Scratch> s;
  explicit ScratchLease(const SuperResolution* sr) : self(sr), s(sr->acquire_scratch()) {}
  ~ScratchLease() { self->release_scratch(std::move(s)); }
};

void SuperResolution::generate(ThreadPool& pool, Scratch& sc, const float* coarse, int ch, int cw,
                               const float* half, const float* full, float* rgb, float* gate_logit,
                               const PixelBox* region) const {
  const int cc = cfg_.coarse_channels(), c0 = cfg_.sr_source_channels[0], c1 = cfg_.sr_source_channels[1];
  const int m = cfg_.sr_mid_channels, o = cfg_.sr_out_channels;
  const float slope = cfg_.lrelu_slope;
  const int mh = 2 * ch, mw = 2 * cw, fh = 4 * ch, fw = 4 * cw;
  const int64_t nm = static_cast<int64_t>(mh) * mw, nf = static_cast<int64_t>(fh) * fw;
  float* x = sc.a.data;
  float* h1 = sc.b.data;
  float* h2 = sc.c.data;
  float* rgb_mid = sc.rgb_mid.data;

  // Image/2: x = up2(coarse); h = lrelu(mid2(lrelu(mid1([x, half])))).
  upsample_bilinear2x(&pool, coarse, ch, cw, cc, x);
  conv2d(&pool, {{x, cc}, {half, c1}}, mh, mw, mid1_, h1, Act::LeakyRelu, slope);
  // rgb_mid starts as the skip x[..., :3]; mid_rgb(h) accumulates onto it.
  for (int64_t i = 0; i < nm; ++i)
    for (int k = 0; k < 3; ++k) rgb_mid[i * 3 + k] = x[i * cc + k];
  conv2d(&pool, {{h1, m}}, mh, mw, mid2_, h2, Act::LeakyRelu, slope);
  Epilogue acc;
  acc.bias = mid_rgb_.bias.data();
  acc.accumulate = true;
  gemm(&pool, static_cast<int>(nm), h2, m, mid_rgb_.w, rgb_mid, 3, acc);

  // Image: h = lrelu(out2(lrelu(out1([up2(h), full])))); rgb = out_rgb(h) + up2(rgb_mid).
  float* h4 = sc.c.data;  // h2 is dead after out1
  if (region) {  // only the region's pixels; full is already the region's
    if (gate_logit) throw Error(ErrorCode::Internal, "SuperResolution: a region has no gate (sr_paste_source only)");
    const PixelBox& R = *region;
    const int rh = R.height(), rw = R.width();
    // Region buffers, grown on demand (a region is at most the whole image).
    auto need = [](Tensor& t, int64_t n) {
      if (!t.defined() || t.numel() < n) t = Tensor::empty({n});
      return t.data;
    };
    const int64_t nr = static_cast<int64_t>(rh) * rw;
    float* hu = need(sc.region_hu, nr * m);
    upsample_bilinear2x_window(&pool, h2, mh, mw, m, R.x0, R.y0, R.x1, R.y1, hu);
    float* h3 = need(sc.region_h, nr * o);
    conv2d(&pool, {{hu, m}, {full, c0}}, rh, rw, out1_, h3, Act::LeakyRelu, slope);
    conv2d(&pool, {{h3, o}}, rh, rw, out2_, h4, Act::LeakyRelu, slope);  // c holds nf * o
    upsample_bilinear2x_window(&pool, rgb_mid, mh, mw, 3, R.x0, R.y0, R.x1, R.y1, rgb);
    Epilogue acc_out;
    acc_out.bias = out_rgb_.bias.data();
    acc_out.accumulate = true;
    gemm(&pool, static_cast<int>(nr), h4, o, out_rgb_.w, rgb, 3, acc_out);
    return;
  }
  float* hu = sc.b.data;  // h1 is dead
  upsample_bilinear2x(&pool, h2, mh, mw, m, hu);
  float* h3 = sc.a.data;  // x is dead
  conv2d(&pool, {{hu, m}, {full, c0}}, fh, fw, out1_, h3, Act::LeakyRelu, slope);
  conv2d(&pool, {{h3, o}}, fh, fw, out2_, h4, Act::LeakyRelu, slope);
  upsample_bilinear2x(&pool, rgb_mid, mh, mw, 3, rgb);
  if (!gate_logit) {
    acc.bias = out_rgb_.bias.data();
    gemm(&pool, static_cast<int>(nf), h4, o, out_rgb_.w, rgb, 3, acc);
    return;
  }
  // out = out_rgb(h) (nf, 4): rgb += out[:3], gate_logit = out[3].
  float* out = sc.a.data;  // h3 is dead; nf * 4 <= nf * o
  Epilogue plain;
  plain.bias = out_rgb_.bias.data();
  gemm(&pool, static_cast<int>(nf), h4, o, out_rgb_.w, out, 4, plain);
  pool.parallel_for(nf, 4096, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      for (int k = 0; k < 3; ++k) rgb[i * 3 + k] = out[i * 4 + k] + rgb[i * 3 + k];
      gate_logit[i] = out[i * 4 + 3];
    }
  });
}

void SuperResolution::check_inputs(const Tensor& coarse, const Tensor& full, const Tensor& half, const Tensor& seen,
                                   const Tensor& keep) const {
  const int r = cfg_.render_size, H = cfg_.image_size;
  check_shape(coarse, {r, r, cfg_.coarse_channels()}, "the coarse render");
  check_shape(full, {H, H, cfg_.sr_source_channels[0]}, "the SR source features (full)");
  check_shape(half, {2 * r, 2 * r, cfg_.sr_source_channels[1]}, "the SR source features (half)");
  if (cfg_.sr_source_gate || cfg_.sr_paste_source) check_shape(seen, {H, H, 3}, "the SR source image (seen)");
  if (cfg_.sr_paste_source) check_shape(keep, {H, H, 1}, "the SR keep map (1 - mouth hole)");
}

Tensor SuperResolution::forward(ThreadPool& pool, const Tensor& coarse, const Tensor& full,
                                const Tensor& half, const Tensor& seen, const Tensor& keep) const {
  const int r = cfg_.render_size, H = cfg_.image_size;
  check_inputs(coarse, full, half, seen, keep);
  const int64_t nf = static_cast<int64_t>(H) * H;
  ScratchLease lease(this);
  Scratch& sc = *lease.s;
  Tensor rgb = Tensor::empty({H, H, 3});
  generate(pool, sc, coarse.data, r, r, half.data, full.data, rgb.data,
           cfg_.sr_source_gate ? sc.gate.data : nullptr);
  const float* src = seen.data;
  float* dst = rgb.data;
  if (cfg_.sr_paste_source) {  // rgb = keep * seen + (1 - keep) * generated: the photo outside the hole
    const float* kp = keep.data;
    pool.parallel_for(nf, 4096, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i)
        for (int k = 0; k < 3; ++k) dst[i * 3 + k] += kp[i] * (src[i * 3 + k] - dst[i * 3 + k]);
    });
  } else if (cfg_.sr_source_gate) {  // rgb = gen + g * (seen - gen)
    const float* logit = sc.gate.data;
    pool.parallel_for(nf, 4096, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) {
        const float g = 1.f / (1.f + std::exp(-kGateGain * logit[i]));
        for (int k = 0; k < 3; ++k) dst[i * 3 + k] = dst[i * 3 + k] + g * (src[i * 3 + k] - dst[i * 3 + k]);
      }
    });
  }
  return rgb;
}

PixelBox SuperResolution::hole_box(const Tensor& keep) const {
  const int H = cfg_.image_size;
  check_shape(keep, {H, H, 1}, "the SR keep map (1 - mouth hole)");
  PixelBox b{H, H, 0, 0};
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < H; ++x)
      if (keep.data[static_cast<int64_t>(y) * H + x] < 1.f) {
        b.x0 = std::min(b.x0, x);
        b.y0 = std::min(b.y0, y);
        b.x1 = std::max(b.x1, x + 1);
        b.y1 = std::max(b.y1, y + 1);
      }
  return b.empty() ? PixelBox{} : b;
}

PixelBox SuperResolution::coarse_window(const PixelBox& out) const {
  return out.coarser(cfg_.image_size / cfg_.render_size, kWindowMargin, cfg_.render_size);
}

Tensor SuperResolution::forward_window(ThreadPool& pool, const Tensor& coarse, const Tensor& full,
                                       const Tensor& half, const Tensor& seen, const Tensor& keep,
                                       const PixelBox& out) const {
  if (!cfg_.sr_paste_source)
    throw Error(ErrorCode::Internal, "SuperResolution::forward_window needs sr_paste_source");
  check_inputs(coarse, full, half, seen, keep);
  const int r = cfg_.render_size, H = cfg_.image_size;
  if (out.x0 < 0 || out.y0 < 0 || out.x1 > H || out.y1 > H)
    throw Error(ErrorCode::Internal, "SuperResolution::forward_window: the box lies outside the image");
  Tensor rgb = Tensor::empty({H, H, 3});
  std::memcpy(rgb.data, seen.data, sizeof(float) * rgb.numel());  // keep = 1 outside the box
  if (out.empty()) return rgb;
  const PixelBox cw = coarse_window(out);
  const int cc = cfg_.coarse_channels(), c0 = cfg_.sr_source_channels[0], c1 = cfg_.sr_source_channels[1];
  ScratchLease lease(this);
  Scratch& sc = *lease.s;
  if (!sc.gen.defined()) {  // sized for the whole image, so any window fits
    const int64_t nf = static_cast<int64_t>(H) * H;
    sc.crop_coarse = Tensor::empty({static_cast<int64_t>(r) * r * cc});
    sc.crop_half = Tensor::empty({nf / 4 * c1});
    sc.region_full = Tensor::empty({nf * c0});
    sc.gen = Tensor::empty({nf * 3});
  }
  // Copies rows [y0, y1) x columns [x0, x1) of a (?, w, c) image, densely.
  auto crop = [](const float* img, int w, int c, int s, const PixelBox& b, float* dst) {
    const int x0 = b.x0 * s, x1 = b.x1 * s;
    for (int y = b.y0 * s; y < b.y1 * s; ++y, dst += static_cast<size_t>(x1 - x0) * c)
      std::memcpy(dst, img + (static_cast<size_t>(y) * w + x0) * c, sizeof(float) * (x1 - x0) * c);
  };
  // The image-size convs run on the box plus the two pixels that out1 and out2 read
  // around it (in crop pixels); the crop's margin is wider, so only image borders clip it.
  const int cx0 = 4 * cw.x0, cy0 = 4 * cw.y0;
  const PixelBox region{std::max(0, out.x0 - kRegionMargin - cx0), std::max(0, out.y0 - kRegionMargin - cy0),
                        std::min(4 * cw.width(), out.x1 + kRegionMargin - cx0),
                        std::min(4 * cw.height(), out.y1 + kRegionMargin - cy0)};
  crop(coarse.data, r, cc, 1, cw, sc.crop_coarse.data);
  crop(half.data, 2 * r, c1, 2, cw, sc.crop_half.data);
  // full only where the image-size convs read it: the region, in image pixels
  const PixelBox region_px{cx0 + region.x0, cy0 + region.y0, cx0 + region.x1, cy0 + region.y1};
  crop(full.data, H, c0, 1, region_px, sc.region_full.data);
  generate(pool, sc, sc.crop_coarse.data, cw.height(), cw.width(), sc.crop_half.data, sc.region_full.data,
           sc.gen.data, nullptr, &region);
  // rgb = keep * seen + (1 - keep) * generated inside the box, as forward() does.
  const int gw = region.width(), gx0 = region_px.x0, gy0 = region_px.y0;
  const float* src = seen.data;
  const float* kp = keep.data;
  const float* gen = sc.gen.data;
  for (int y = out.y0; y < out.y1; ++y)
    for (int x = out.x0; x < out.x1; ++x) {
      const int64_t p = static_cast<int64_t>(y) * H + x;
      const float* g = gen + (static_cast<int64_t>(y - gy0) * gw + (x - gx0)) * 3;
      for (int k = 0; k < 3; ++k) rgb.data[p * 3 + k] = g[k] + kp[p] * (src[p * 3 + k] - g[k]);
    }
  return rgb;
}

}  // namespace s3d
