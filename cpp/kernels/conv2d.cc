#include "kernels/conv2d.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/bf16.h"
#include "kernels/gemm_internal.h"

namespace s3d {

Conv2d pack_conv2d(const float* weight, const float* bias, int cout, int cin, int k, int stride) {
  if ((k != 1 && k != 3) || (stride != 1 && stride != 2) || cin <= 0 || cout <= 0)
    throw Error(ErrorCode::InvalidArgument,
                "Expected k in {1, 3}, stride in {1, 2} and positive channels for conv2d but received k=" +
                    std::to_string(k) + " stride=" + std::to_string(stride) + " cin=" + std::to_string(cin) +
                    " cout=" + std::to_string(cout));
  Conv2d c;
  c.cin = cin;
  c.cout = cout;
  c.k = k;
  c.stride = stride;
  const int K = k * k * cin;
  // B[(ky*k + kx)*cin + ci][o] = weight[o][ci][ky][kx]
  std::vector<float> kn(static_cast<size_t>(K) * cout);
  for (int o = 0; o < cout; ++o)
    for (int ci = 0; ci < cin; ++ci)
      for (int t = 0; t < k * k; ++t)
        kn[static_cast<size_t>(t * cin + ci) * cout + o] = weight[(static_cast<size_t>(o) * cin + ci) * k * k + t];
  c.w = pack_kn(kn.data(), K, cout, cout);
  c.taps = k * k;
  if (bias) c.bias.assign(bias, bias + cout);
  return c;
}

namespace {

struct AlignedBuf {
  std::unique_ptr<float, void (*)(void*)> p{nullptr, std::free};
  float* get() const { return p.get(); }
  void alloc(size_t n) {
    p.reset(static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64)));
    if (!p) throw Error(ErrorCode::OutOfMemory, "Failed to allocate conv2d scratch");
  }
};

// The zero-padded, channel-concatenated input: (H + 2 pad) x (W + 2 pad) pixels of
// cp values (cp >= the channels; the extra one of an odd bf16 count is zeroed).
// copy(n, channels, from, to, to_stride) copies n pixels of one part, converting if needed.
template <class Elem, class Copy>
void fill_padded(ThreadPool* pool, const std::vector<ConvInput>& in, int H, int W, int pad, int cp, Elem* dst,
                 Copy copy) {
  const int Wp = W + 2 * pad;
  auto fill_rows = [&](int64_t y0, int64_t y1, int) {
    for (int64_t yp = y0; yp < y1; ++yp) {
      Elem* row = dst + static_cast<size_t>(yp) * Wp * cp;
      const int y = static_cast<int>(yp) - pad;
      if (y < 0 || y >= H) {
        std::memset(row, 0, sizeof(Elem) * Wp * cp);
        continue;
      }
      std::memset(row, 0, sizeof(Elem) * pad * cp);
      std::memset(row + static_cast<size_t>(pad + W) * cp, 0, sizeof(Elem) * pad * cp);
      int off = 0;
      for (const ConvInput& p : in) {
        copy(W, p.channels, p.data + static_cast<size_t>(y) * W * p.channels,
             row + static_cast<size_t>(pad) * cp + off, cp);
        off += p.channels;
      }
      if (off < cp)  // an odd channel count in bf16: the last pair's partner
        for (int x = 0; x < W; ++x) row[static_cast<size_t>(pad + x) * cp + off] = 0;
    }
  };
  const int Hp = H + 2 * pad;
  if (pool) pool->parallel_for(Hp, 8, fill_rows);
  else fill_rows(0, Hp, 0);
}

// Every output row in tiles of at most mr pixels x one weight panel, A read in
// place from src (Wp pixels per row, cp values per pixel), one K segment per tap.
// t comes with its K depth set (ks for fp32, kp pairs for bf16); panel(p) gives
// panel p's weights and tile(t) runs one tile (fp32 or bf16 kernel).
template <class Elem, class Args, class Panel, class Tile>
void conv_tiles(ThreadPool* pool, int mr, const Elem* src, int Wp, int cp, const Conv2d& c, int Ho, int Wo,
                float* out, const Epilogue& ep, Args t, Panel panel, Tile tile) {
  const int s = c.stride, k = c.k, np = c.w.num_panels();
  // Split each output row into near-equal tiles of at most mr pixels
  // (e.g. 64 -> 5 x 12.8 rather than 4 x 14 + 8).
  const int ntiles = (Wo + mr - 1) / mr;
  t.nseg = k * k;
  t.lda = static_cast<int64_t>(s) * cp;
  t.ldc = c.cout;
  t.act = ep.act;
  t.slope = ep.slope;
  auto run_rows = [&](int64_t r0, int64_t r1, int) {
    const Elem* segs[9];
    Args a = t;
    a.a = segs;
    for (int64_t oy = r0; oy < r1; ++oy) {
      for (int ti = 0; ti < ntiles; ++ti) {
        const int x0 = static_cast<int>(static_cast<int64_t>(Wo) * ti / ntiles);
        const int x1 = static_cast<int>(static_cast<int64_t>(Wo) * (ti + 1) / ntiles);
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx)
            segs[ky * k + kx] =
                src + (static_cast<size_t>(oy * s + ky) * Wp + static_cast<size_t>(x0) * s + kx) * cp;
        a.m = x1 - x0;
        for (int p = 0; p < np; ++p) {
          const int n0 = p * PackedMatrix::kPanel;
          a.b = panel(p);
          a.ldb = c.w.panel_width(p);
          a.n = std::min(PackedMatrix::kPanel, c.cout - n0);
          a.c = out + (static_cast<size_t>(oy) * Wo + x0) * c.cout + n0;
          a.bias = ep.bias ? ep.bias + n0 : nullptr;
          tile(a);
        }
      }
    }
  };
  if (pool) pool->parallel_for(Ho, 1, run_rows);
  else run_rows(0, Ho, 0);
}

}  // namespace

void add_bf16_panels(Conv2d& c) { add_bf16_panels(c.w, c.taps); }

void conv2d(ThreadPool* pool, const std::vector<ConvInput>& in, int H, int W, const Conv2d& c, float* out,
            Act act, float slope) {
  int cin = 0;
  for (const ConvInput& p : in) cin += p.channels;
  if (cin != c.cin || H <= 0 || W <= 0)
    throw Error(ErrorCode::InvalidArgument, "Expected " + std::to_string(c.cin) +
                                                " input channels and a non-empty image for conv2d but received " +
                                                std::to_string(cin) + " channels at " + std::to_string(H) + "x" +
                                                std::to_string(W));
  const int s = c.stride, k = c.k, pad = k / 2;
  const int Ho = conv2d_out_size(H, s), Wo = conv2d_out_size(W, s);
  const int Hp = H + 2 * pad, Wp = W + 2 * pad;
  Epilogue ep;
  ep.bias = c.bias.empty() ? nullptr : c.bias.data();
  ep.act = act;
  ep.slope = slope;

  if (k == 1 && s == 1 && in.size() == 1) {  // plain GEMM over all pixels
    gemm(pool, H * W, in[0].data, cin, c.w, out, c.cout, ep);
    return;
  }
  const kern::Kernel& kr = kern::kernel_for(kernel_isa());

  if (uses_bf16(c.w)) {  // fast precision: the padded copy rounded to bf16, whole pairs per pixel
    const int cp = 2 * c.w.seg_pairs;
    uint16_t* src = bf16_thread_buffer(static_cast<size_t>(Hp) * Wp * cp + 32);
    fill_padded(pool, in, H, W, pad, cp, src, [](int n, int ch, const float* from, uint16_t* to, int stride) {
      convert_rows_bf16(n, ch, from, ch, to, stride);
    });
    kern::TileArgsBf16 t;
    t.kp = c.w.seg_pairs;
    conv_tiles(pool, kr.mr, static_cast<const uint16_t*>(src), Wp, cp, c, Ho, Wo, out, ep, t,
               [&](int p) { return c.w.panel_bf16(p); }, kr.tile_bf16);
    return;
  }

  // Source image read in place when possible, else one zero-padded,
  // channel-concatenated copy (cost ~1/(2*cout*k*k) of the conv's FLOPs).
  const float* src = in[0].data;
  AlignedBuf buf;
  if (pad > 0 || in.size() > 1) {
    buf.alloc(static_cast<size_t>(Hp) * Wp * cin);
    fill_padded(pool, in, H, W, pad, cin, buf.get(), [](int n, int ch, const float* from, float* to, int stride) {
      if (ch == stride) {
        std::memcpy(to, from, sizeof(float) * n * ch);
        return;
      }
      for (int x = 0; x < n; ++x)
        std::memcpy(to + static_cast<size_t>(x) * stride, from + static_cast<size_t>(x) * ch, sizeof(float) * ch);
    });
    src = buf.get();
  }
  kern::TileArgs t;
  t.ks = cin;
  conv_tiles(pool, kr.mr, src, Wp, cin, c, Ho, Wo, out, ep, t, [&](int p) { return c.w.panel(p); }, kr.tile);
}

}  // namespace s3d
