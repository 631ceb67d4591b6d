// Parity test of the conv / attention stages (encoder, slot_attention, audio_net,
// cross_attention, super_resolution_source, super_resolution) against the
// PyTorch golden fixtures (docs/FIXTURES.md), on every kernel ISA the CPU has.
// Build and run from the repository root:
//   g++ -std=c++17 -O2 -pthread -Icpp tests/native/test_modules_conv.cc cpp/core/*.cc cpp/kernels/*.cc
//       cpp/model/weights.cc cpp/model/stages_common.cc cpp/model/stages_conv.cc cpp/model/encoder.cc
//       cpp/model/slot_attention.cc cpp/model/audio_net.cc cpp/model/cross_attention.cc
//       cpp/model/super_resolution.cc cpp/model/load_layers.cc -o /tmp/test_modules_conv && /tmp/test_modules_conv
// Exit status 0 when every check passes.
//
// Benchmark mode (no parity checks): time Encoder::forward and SuperResolution::forward
// on any model file, e.g. a random s3d-64 one (see the report in the PR):
//   /tmp/test_modules_conv --bench .cache/s3d64.safetensors [threads=2] [reps=3]
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"
#include "core/thread_pool.h"
#include "kernels/isa.h"
#include "model/audio_net.h"
#include "model/cross_attention.h"
#include "model/encoder.h"
#include "model/slot_attention.h"
#include "model/stages.h"
#include "model/super_resolution.h"
#include "model/weights.h"

using namespace s3d;

namespace {

constexpr double kTol = 1e-4;
int g_failures = 0;

double rel_err(const Tensor& out, const Tensor& ref) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double d = static_cast<double>(out.data[i]) - ref.data[i];
    num += d * d;
    den += static_cast<double>(ref.data[i]) * ref.data[i];
  }
  if (!std::isfinite(num)) return INFINITY;
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

struct Modules {
  Encoder encoder;
  Aggregator aggregator;
  AudioNet audio_net;
  CrossAttention cross_attention;
  SuperResolution sr;
  explicit Modules(const Weights& w)
      : encoder(w, w.config()),
        aggregator(w, w.config()),
        audio_net(w, w.config()),
        cross_attention(w, w.config()),
        sr(w, w.config()) {}
};

using StageFn = std::function<TensorMap(ThreadPool&, const TensorMap&)>;

void check_stage(const std::string& stage, const StageFn& fn, const SafetensorsFile& fx, ThreadPool& pool,
                 const char* isa) {
  const std::string in_prefix = stage + "/in/", out_prefix = stage + "/out/";
  TensorMap in, ref;
  for (const auto& kv : fx.tensors) {
    if (kv.first.compare(0, in_prefix.size(), in_prefix) == 0) in[kv.first.substr(in_prefix.size())] = kv.second;
    if (kv.first.compare(0, out_prefix.size(), out_prefix) == 0) ref[kv.first.substr(out_prefix.size())] = kv.second;
  }
  if (in.empty() || ref.empty()) {
    std::printf("FAIL %-23s [%s] fixture has no inputs/outputs for this stage\n", stage.c_str(), isa);
    ++g_failures;
    return;
  }
  TensorMap out;
  try {
    out = fn(pool, in);
  } catch (const std::exception& e) {
    std::printf("FAIL %-23s [%s] threw: %s\n", stage.c_str(), isa, e.what());
    ++g_failures;
    return;
  }
  for (const auto& kv : ref) {
    auto it = out.find(kv.first);
    if (it == out.end()) {
      std::printf("FAIL %-23s [%s] output \"%s\" missing\n", stage.c_str(), isa, kv.first.c_str());
      ++g_failures;
      continue;
    }
    if (it->second.shape != kv.second.shape) {
      std::printf("FAIL %-23s [%s] output \"%s\" shape %s, expected %s\n", stage.c_str(), isa, kv.first.c_str(),
                  shape_str(it->second.shape).c_str(), shape_str(kv.second.shape).c_str());
      ++g_failures;
      continue;
    }
    const double e = rel_err(it->second, kv.second);
    const bool ok = e <= kTol;
    std::printf("%s %-23s [%s] %-7s rel err %.3e\n", ok ? "ok  " : "FAIL", stage.c_str(), isa, kv.first.c_str(), e);
    if (!ok) ++g_failures;
  }
  if (out.size() != ref.size()) {
    std::printf("FAIL %-23s [%s] produced %zu outputs, fixture has %zu\n", stage.c_str(), isa, out.size(), ref.size());
    ++g_failures;
  }
}

// forward_window (the engine's sr_paste_source path) against forward on random
// non-zero inputs: inside the box the two agree to float rounding, outside it the
// frame is seen. Boxes: one cell-sized in the middle (every crop edge inside the
// image), one at each corner (crop edges on the image border), the whole image, empty.
void test_sr_window(const SuperResolution& sr, ThreadPool& pool) {
  const ModelConfig& c = sr.config();
  if (!c.sr_paste_source) {
    std::printf("FAIL sr window: the fixture model must have sr_paste_source\n");
    ++g_failures;
    return;
  }
  const int r = c.render_size, H = c.image_size;
  uint32_t seed = 7;
  auto fill = [&](Shape s, float lo, float hi) {
    Tensor t = Tensor::empty(std::move(s));
    for (int64_t i = 0; i < t.numel(); ++i) {
      seed = seed * 1664525u + 1013904223u;
      t.data[i] = lo + (hi - lo) * static_cast<float>(seed >> 8) / 16777216.f;
    }
    return t;
  };
  const Tensor coarse = fill({r, r, c.coarse_channels()}, -1.f, 1.f);
  const Tensor full = fill({H, H, c.sr_source_channels[0]}, 0.f, 1.f);
  const Tensor half = fill({H / 2, H / 2, c.sr_source_channels[1]}, 0.f, 1.f);
  const Tensor seen = fill({H, H, 3}, 0.f, 1.f);
  const Tensor keep = fill({H, H, 1}, 0.f, 1.f);  // every pixel partly generated
  const Tensor ref = sr.forward(pool, coarse, full, half, seen, keep);
  const int q = H / 4, mid = H / 2;
  const std::vector<PixelBox> boxes = {{mid - 4, mid - 4, mid + 4, mid}, {0, 0, q, q}, {H - q, 0, H, q},
                                       {0, H - q, q, H},                     {H - q, H - q, H, H}, {0, 0, H, H},
                                       {}};
  for (const PixelBox& b : boxes) {
    const Tensor got = sr.forward_window(pool, coarse, full, half, seen, keep, b);
    double num = 0, den = 0, outside = 0;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < H; ++x)
        for (int k = 0; k < 3; ++k) {
          const int64_t i = (static_cast<int64_t>(y) * H + x) * 3 + k;
          if (x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1) {
            num += (got.data[i] - ref.data[i]) * (got.data[i] - ref.data[i]);
            den += ref.data[i] * ref.data[i];
          } else {
            outside = std::max(outside, static_cast<double>(std::fabs(got.data[i] - seen.data[i])));
          }
        }
    const double e = b.empty() ? 0 : std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
    // Observed 0 (the same sums in the same order); 1e-6 leaves room for a GEMM tiling
    // that depends on the crop width.
    const bool ok = e <= 1e-6 && outside == 0;
    const PixelBox cw = sr.coarse_window(b);
    std::printf("%s sr window [%d,%d)x[%d,%d) (coarse [%d,%d)x[%d,%d)): rel err %.3e inside, max |rgb - seen| "
                "outside %.1e\n",
                ok ? "ok  " : "FAIL", b.x0, b.x1, b.y0, b.y1, cw.x0, cw.x1, cw.y0, cw.y1, e, outside);
    if (!ok) ++g_failures;
  }
  // The middle box's window must lie inside the grid, or the check above proves little.
  const PixelBox cw = sr.coarse_window(boxes[0]);
  if (cw.x0 == 0 || cw.y0 == 0 || cw.x1 == r || cw.y1 == r) {
    std::printf("FAIL sr window: the middle box's coarse window touches the border\n");
    ++g_failures;
  }
  // hole_box: the bounding box of keep < 1.
  Tensor k1 = Tensor::empty({H, H, 1});
  std::fill(k1.data, k1.data + k1.numel(), 1.f);
  const bool none = sr.hole_box(k1).empty();
  k1.data[5 * H + 9] = 0.5f;
  k1.data[11 * H + 3] = 0.f;
  const PixelBox hb = sr.hole_box(k1);
  const bool ok = none && hb == PixelBox{3, 5, 10, 12};
  std::printf("%s sr hole_box: empty for keep = 1, [%d,%d)x[%d,%d) for two hidden pixels\n", ok ? "ok  " : "FAIL",
              hb.x0, hb.x1, hb.y0, hb.y1);
  if (!ok) ++g_failures;
}

int parity(const std::string& dir) {
  Weights w = Weights::load(dir + "/model.safetensors");
  SafetensorsFile fx = read_safetensors(dir + "/stages.safetensors");
  Modules m(w);
  const std::vector<std::pair<std::string, StageFn>> stages = {
      {"encoder", [&](ThreadPool& p, const TensorMap& in) { return run_encoder_stage(m.encoder, p, in); }},
      {"slot_attention",
       [&](ThreadPool& p, const TensorMap& in) { return run_slot_attention_stage(m.aggregator, p, in); }},
      {"audio_net", [&](ThreadPool& p, const TensorMap& in) { return run_audio_net_stage(m.audio_net, p, in); }},
      {"cross_attention",
       [&](ThreadPool& p, const TensorMap& in) { return run_cross_attention_stage(m.cross_attention, p, in); }},
      {"super_resolution_source",
       [&](ThreadPool& p, const TensorMap& in) { return run_super_resolution_source_stage(m.sr, p, in); }},
      {"super_resolution",
       [&](ThreadPool& p, const TensorMap& in) { return run_super_resolution_stage(m.sr, p, in); }},
  };
  ThreadPool pool1(1), pool3(3);
  for (int isa = static_cast<int>(detected_isa()); isa >= 0; --isa) {
    set_kernel_isa_cap(static_cast<Isa>(isa));
    const std::string name = isa_name(kernel_isa());
    for (const auto& s : stages) {
      check_stage(s.first, s.second, fx, pool3, (name + " 3t").c_str());
      if (isa == static_cast<int>(detected_isa())) check_stage(s.first, s.second, fx, pool1, (name + " 1t").c_str());
    }
  }
  set_kernel_isa_cap(Isa::Avx512);

  // The encoder -> slot_attention -> cross_attention chain on channel-last tensors
  // directly (the engine path, no layout round trips).
  {
    ThreadPool& pool = pool3;
    Tensor image = chw_to_hwc(fx.tensors.at("encoder/in/image"));
    const Tensor& mask = fx.tensors.at("encoder/in/mask");
    auto f = m.encoder.forward(pool, image.data, mask.data);
    Tensor agg = m.aggregator.forward(pool, f);
    Tensor tokens, code;
    m.audio_net.forward(nullptr, fx.tensors.at("audio_net/in/mel").data, tokens, code);
    Tensor cm = m.cross_attention.forward(pool, m.cross_attention.query(pool, agg), tokens);
    const double e = rel_err(hwc_to_chw(cm), fx.tensors.at("cross_attention/out/cm"));
    const bool ok = e <= kTol;
    std::printf("%s chained encoder->slot_attention->audio_net->cross_attention rel err %.3e\n", ok ? "ok  " : "FAIL",
                e);
    if (!ok) ++g_failures;
  }
  test_sr_window(m.sr, pool3);
  // A mis-shaped stage input must be rejected, not read out of bounds.
  try {
    TensorMap bad{{"mel", Tensor::zeros({3, 3})}};
    run_audio_net_stage(m.audio_net, pool3, bad);
    std::printf("FAIL audio_net accepted a mis-shaped mel\n");
    ++g_failures;
  } catch (const Error&) {
    std::printf("ok   audio_net rejects a mis-shaped mel\n");
  }
  if (g_failures) {
    std::printf("\n%d FAILURE(S)\n", g_failures);
    return 1;
  }
  std::printf("\nall conv/attention stages match the fixtures (tol %.0e)\n", kTol);
  return 0;
}

double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// Best wall time of `reps` calls after a warm-up, with the process CPU time of
// that call (on a loaded machine CPU time / threads is the steadier figure).
template <class F>
std::string time_ms(int reps, F&& f) {
  f();  // warm-up (first-touch allocations, caches)
  double best = 1e30, best_cpu = 0;
  for (int i = 0; i < reps; ++i) {
    const double c0 = cpu_ms();
    auto t0 = std::chrono::steady_clock::now();
    f();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (ms < best) best = ms, best_cpu = cpu_ms() - c0;
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "%9.2f ms wall  %9.2f ms cpu", best, best_cpu);
  return buf;
}

int bench(const std::string& path, int threads, int reps) {
  Weights w = Weights::load(path);
  const ModelConfig& cfg = w.config();
  Modules m(w);
  ThreadPool pool(threads);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  const int H = cfg.image_size, r = cfg.render_size;
  std::vector<float> image(static_cast<size_t>(H) * H * 3), mask(static_cast<size_t>(H) * H);
  for (float& v : image) v = u(rng);
  for (float& v : mask) v = u(rng);
  Tensor coarse = Tensor::empty({r, r, cfg.coarse_channels()});
  for (int64_t i = 0; i < coarse.numel(); ++i) coarse.data[i] = u(rng);
  Tensor full, half, seen, keep;
  m.sr.source(pool, image.data(), mask.data(), full, half, seen, keep);
  std::array<Tensor, 4> f;
  std::printf("model %s (%s), %d thread(s), kernels %s, best of %d\n", path.c_str(), cfg.name.c_str(), threads,
              isa_name(kernel_isa()), reps);
  std::printf("Encoder::forward          %s\n",
              time_ms(reps, [&] { f = m.encoder.forward(pool, image.data(), mask.data()); }).c_str());
  std::printf("Aggregator::forward       %s\n", time_ms(reps, [&] { m.aggregator.forward(pool, f); }).c_str());
  std::printf("SuperResolution::source   %s\n",
              time_ms(reps, [&] { m.sr.source(pool, image.data(), mask.data(), full, half, seen, keep); }).c_str());
  std::printf("SuperResolution::forward  %s\n", time_ms(reps, [&] { m.sr.forward(pool, coarse, full, half, seen, keep); }).c_str());
  Tensor agg = m.aggregator.forward(pool, f);
  Tensor q = m.cross_attention.query(pool, agg);
  std::vector<float> mel(static_cast<size_t>(cfg.audio.n_mels) * cfg.audio.window_frames, -3.f);
  Tensor tokens, code;
  std::printf("AudioNet + CrossAttention %s\n", time_ms(reps, [&] {
                m.audio_net.forward(&pool, mel.data(), tokens, code);
                m.cross_attention.forward(pool, q, tokens);
              }).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 3 && std::string(argv[1]) == "--bench")
      return bench(argv[2], argc >= 4 ? std::atoi(argv[3]) : 2, argc >= 5 ? std::atoi(argv[4]) : 3);
    return parity(argc >= 2 ? argv[1] : "tests/fixtures/tiny");
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
}
