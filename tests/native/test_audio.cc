// Audio front-end parity test against tests/fixtures/audio.safetensors
// (written by train/fixtures_audio.py from the PyTorch/torchaudio reference).
// Build and run from the repository root:
//   g++ -std=c++17 -O2 -pthread -Icpp tests/native/test_audio.cc cpp/audio/*.cc cpp/core/error.cc cpp/core/tensor.cc cpp/core/thread_pool.cc cpp/core/json.cc cpp/core/safetensors.cc -o /tmp/test_audio && /tmp/test_audio [fixture]
// Exit status 0 when every check passes.
// Timings of the front end on 60 s of audio (log-mel, resample + log-mel; not run
// by the test, several seconds on 2 cores): /tmp/test_audio --bench
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "audio/audio_features.h"
#include "audio/audio_stream.h"
#include "audio/fft.h"
#include "audio/log_mel.h"
#include "audio/resample.h"
#include "core/error.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "core/thread_pool.h"

using namespace s3d;

static int g_failures = 0;
static constexpr double kTol = 1e-5;

static void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "  ok  " : "  FAIL", what.c_str());
  if (!ok) ++g_failures;
}

static double rel_err(const float* out, const float* ref, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(out[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

static void check_rel(const std::string& what, const float* out, const float* ref, int64_t n, double tol = kTol) {
  const double e = rel_err(out, ref, n);
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-28s rel err %.3e (n=%lld)", what.c_str(), e, static_cast<long long>(n));
  check(e <= tol, buf);
}

static void test_fft() {
  std::printf("FFT vs naive DFT\n");
  std::mt19937 rng(7);
  std::normal_distribution<double> nd;
  for (int n : {800, 400, 1, 2, 3, 5, 12, 49, 97, 128, 1000, 802}) {
    std::vector<double> x(n);
    for (double& v : x) v = nd(rng);
    RealFFT fft(n);
    std::vector<cdouble> out(fft.bins()), scratch(fft.scratch_size());
    fft.forward(x.data(), out.data(), scratch.data());
    double num = 0, den = 0;
    for (int k = 0; k < fft.bins(); ++k) {
      long double re = 0, im = 0;
      for (int j = 0; j < n; ++j) {
        const long double a = -2.0L * 3.14159265358979323846264338327950288L * ((static_cast<long long>(j) * k) % n) / n;
        re += x[j] * cosl(a);
        im += x[j] * sinl(a);
      }
      num += std::norm(out[k] - cdouble(static_cast<double>(re), static_cast<double>(im)));
      den += static_cast<double>(re * re + im * im);
    }
    const double e = std::sqrt(num / den);
    char buf[128];
    std::snprintf(buf, sizeof buf, "real FFT n=%-4d rel err %.3e", n, e);
    check(e < 1e-12, buf);
  }
}

static std::vector<float> column_major_to_torch(const Tensor& t) {  // (T, M) -> (M, T)
  const int64_t T = t.dim(0), M = t.dim(1);
  std::vector<float> v(static_cast<size_t>(T * M));
  for (int64_t i = 0; i < T; ++i)
    for (int64_t m = 0; m < M; ++m) v[m * T + i] = t.data[i * M + m];
  return v;
}

static void test_fixture(ThreadPool& pool, const std::string& path) {
  std::printf("fixture %s\n", path.c_str());
  SafetensorsFile f = read_safetensors(path);
  const JsonValue cases = parse_json(f.metadata.at("cases"), "cases");
  AudioFrontEnd fe;  // defaults = the fixture's config
  for (const JsonValue& c : cases.items()) {
    const std::string name = c.find("name")->as_string();
    const int rate = static_cast<int>(c.find("sample_rate")->as_number());
    const double tol_rs = c.find("tol_resample") ? c.find("tol_resample")->as_number() : kTol;
    const double tol_lm = c.find("tol_logmel") ? c.find("tol_logmel")->as_number() : kTol;
    const Tensor& in = f.tensors.at(name + "/input");
    const Tensor& rs = f.tensors.at(name + "/resampled");
    const Tensor& lm = f.tensors.at(name + "/logmel");
    std::printf(" case %s (%d Hz, %lld samples; tol resample %.0e, log-mel %.0e)\n", name.c_str(), rate,
                static_cast<long long>(in.numel()), tol_rs, tol_lm);

    // Resampler alone.
    std::vector<float> y = resample(&pool, in.data, in.numel(), rate, fe.sample_rate);
    check(static_cast<int64_t>(y.size()) == rs.numel(),
          "resampled length " + std::to_string(y.size()) + " == " + std::to_string(rs.numel()));
    if (static_cast<int64_t>(y.size()) == rs.numel()) check_rel("resample", y.data(), rs.data, rs.numel(), tol_rs);

    // Log-mel on the reference 16 kHz signal (isolates it from resampling).
    {
      LogMel l(fe);
      std::vector<float> x(rs.data, rs.data + rs.numel());
      if (static_cast<int64_t>(x.size()) < l.min_samples()) x.resize(l.min_samples(), 0.f);
      const int64_t T = l.frames(static_cast<int64_t>(x.size()));
      Tensor o = Tensor::empty({T, fe.n_mels});
      l.compute(&pool, x.data(), static_cast<int64_t>(x.size()), o.data);
      check(T == lm.dim(1), "mel frames " + std::to_string(T) + " == " + std::to_string(lm.dim(1)));
      if (T == lm.dim(1)) check_rel("log-mel (ref 16k input)", column_major_to_torch(o).data(), lm.data, lm.numel(), tol_lm);
    }

    // Whole pipeline.
    auto a = compute_audio_features(&pool, in.data, in.numel(), rate, fe);
    check(a->sample_count16k == static_cast<int64_t>(c.find("samples16k")->as_number()), "sample_count16k");
    check(a->frame_count == static_cast<int64_t>(c.find("frame_count")->as_number()),
          "frame_count " + std::to_string(a->frame_count));
    check(a->mel_frames == lm.dim(1), "mel_frames " + std::to_string(a->mel_frames));
    if (a->mel_frames == lm.dim(1)) {
      const std::vector<float> o = column_major_to_torch(a->logmel);
      check_rel("log-mel (pipeline)", o.data(), lm.data, lm.numel(), tol_lm);
      // Same comparison on mel energies (exp), which is what the log amplifies.
      std::vector<float> eo(o.size()), er(o.size());
      for (size_t i = 0; i < o.size(); ++i) { eo[i] = std::exp(o[i]); er[i] = std::exp(lm.data[i]); }
      std::printf("        mel energy (exp) rel err %.3e\n", rel_err(eo.data(), er.data(), lm.numel()));
    }
    for (const JsonValue& tv : c.find("windows")->items()) {
      const int64_t t = static_cast<int64_t>(tv.as_number());
      const Tensor& ref = f.tensors.at(name + "/window_" + std::to_string(t));
      std::vector<float> w(static_cast<size_t>(fe.n_mels) * fe.window_frames);
      deform_window(*a, t, fe, w.data());
      check_rel("deform window t=" + std::to_string(t), w.data(), ref.data, ref.numel(), tol_lm);
    }
  }
}

template <class F>
static void expect_error(const std::string& what, ErrorCode code, const std::string& needle, F fn) {
  try {
    fn();
    check(false, what + ": no error");
  } catch (const Error& e) {
    const bool ok = e.code() == code && std::string(e.what()).find(needle) != std::string::npos;
    check(ok, what + ": " + error_code_name(e.code()) + " \"" + e.what() + "\"");
  }
}

static void test_errors(ThreadPool& pool) {
  std::printf("errors\n");
  AudioFrontEnd fe;
  std::vector<float> x(1000, 0.1f);
  expect_error("empty", ErrorCode::InputAudio, "received 0 samples",
               [&] { compute_audio_features(&pool, x.data(), 0, 16000, fe); });
  x[123] = std::nanf("");
  expect_error("NaN", ErrorCode::InputAudio, "Expected finite audio samples but received NaN at index 123",
               [&] { compute_audio_features(&pool, x.data(), 1000, 16000, fe); });
  x[123] = 0.f;
  x[7] = -INFINITY;
  expect_error("-inf", ErrorCode::InputAudio, "-Infinity at index 7",
               [&] { compute_audio_features(&pool, x.data(), 1000, 16000, fe); });
  x[7] = 0.f;
  expect_error("rate", ErrorCode::InputAudio, "received 4000",
               [&] { compute_audio_features(&pool, x.data(), 1000, 4000, fe); });
  auto a = compute_audio_features(&pool, x.data(), 1000, 16000, fe);
  std::vector<float> w(static_cast<size_t>(fe.n_mels) * fe.window_frames);
  expect_error("frame range", ErrorCode::InvalidArgument, "received 2",
               [&] { deform_window(*a, 2, fe, w.data()); });
  // Odd rate with gcd 1 against 16 kHz (16000 polyphase rows): must still work.
  std::vector<float> z(44101, 0.25f);
  auto b = compute_audio_features(&pool, z.data(), static_cast<int64_t>(z.size()), 44101, fe);
  check(b->sample_count16k == 16000, "44101 Hz -> 16000 samples");
  // Default window start formula.
  bool ok = true;
  for (int64_t t = 0; t < 1000; ++t) ok &= deform_window_start(t, fe) == (32 * t + 21) / 10 - 16;
  check(ok, "deform_window_start == floor((32t+21)/10) - 16");
}

// A speech-like test signal: a few drifting partials, noise, silent gaps.
static std::vector<float> test_signal(int64_t n, int rate, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double env = std::fmod(t, 0.7) < 0.5 ? 1.0 : 0.0;
    const double f0 = 120 + 40 * std::sin(2 * 3.14159265 * 1.3 * t);
    double v = 0;
    for (int h = 1; h <= 6; ++h) v += std::sin(2 * 3.14159265 * f0 * h * t + h) / h;
    x[i] = static_cast<float>(0.3 * env * v) + nd(rng);
  }
  return x;
}

// AudioStreamBuilder: random chunkings give the one-shot features bit for bit.
static void test_stream(ThreadPool& pool) {
  std::printf("streaming front end vs one-shot\n");
  AudioFrontEnd fe;
  std::mt19937 rng(11);
  struct Case { int rate; int64_t n; };
  const Case cases[] = {{44100, 44100 * 3 + 17}, {48000, 48000 * 2 + 5}, {22050, 30011}, {16000, 16000 + 123},
                        {8000, 9001},           {44101, 44101},         {11025, 7},     {16000, 300},
                        {48000, 1},             {192000, 192000 / 3 + 1}};
  for (const Case& c : cases) {
    const std::vector<float> x = test_signal(c.n, c.rate, static_cast<uint32_t>(c.rate + c.n));
    auto ref = compute_audio_features(&pool, x.data(), c.n, c.rate, fe);
    for (int trial = 0; trial < 4; ++trial) {
      // trial 0: one chunk; 1: single samples (short inputs only); 2, 3: random sizes up to 1..20000.
      AudioStreamBuilder b(trial == 3 ? nullptr : &pool, c.rate, fe);
      const int64_t max_chunk = trial == 0 ? c.n : trial == 1 ? 1 : trial == 2 ? 20000 : 977;
      if (trial == 1 && c.n > 40000) continue;
      std::uniform_int_distribution<int64_t> ud(1, max_chunk);
      for (int64_t p = 0; p < c.n;) {
        const int64_t k = std::min(c.n - p, ud(rng));
        if (k == 3) b.push(x.data() + p, 0);  // empty pushes are no-ops
        b.push(x.data() + p, k);
        p += k;
      }
      auto a = b.finish();
      const bool same_shape = a->sample_count16k == ref->sample_count16k && a->frame_count == ref->frame_count &&
                              a->mel_frames == ref->mel_frames && a->logmel.numel() == ref->logmel.numel();
      const bool same = same_shape && std::memcmp(a->logmel.data, ref->logmel.data, sizeof(float) * ref->logmel.numel()) == 0;
      char buf[160];
      std::snprintf(buf, sizeof buf, "%6d Hz n=%-7lld chunks<=%-6lld %lld mel frames, bit-identical", c.rate,
                    static_cast<long long>(c.n), static_cast<long long>(max_chunk), static_cast<long long>(a->mel_frames));
      std::string what = buf;
      if (!same_shape) what += " (shapes differ)";
      else if (!same) {  // exact equality is the contract; the size of the difference helps diagnose
        std::snprintf(buf, sizeof buf, " (rel err %.3e)", rel_err(a->logmel.data, ref->logmel.data, ref->logmel.numel()));
        what += buf;
      }
      check(same, what);
    }
  }
  expect_error("stream rate", ErrorCode::InputAudio, "received 4000", [&] { AudioStreamBuilder(&pool, 4000, fe); });
  {
    AudioStreamBuilder b(&pool, 44100, fe);
    expect_error("stream empty", ErrorCode::InputAudio, "received 0 samples", [&] { b.finish(); });
  }
  {
    AudioStreamBuilder b(&pool, 44100, fe);
    std::vector<float> x(100, 0.1f);
    b.push(x.data(), 100);
    x[5] = std::nanf("");
    expect_error("stream NaN", ErrorCode::InputAudio, "received NaN at index 105", [&] { b.push(x.data(), 100); });
    x[5] = 0.f;
    b.push(x.data(), 100);
    auto a = b.finish();
    check(b.samples_pushed() == 200 && a->sample_count16k == (200 * 16000 + 44099) / 44100, "stream after a rejected chunk");
    expect_error("stream finished", ErrorCode::InvalidArgument, "already finished", [&] { b.push(x.data(), 1); });
  }
}

// Live rendering: windows of ready frames (AudioStreamBuilder::window_features)
// equal the finished track's windows, frames_ready() is exact, and a track
// finished after discarding columns still gives every later frame's window.
static void test_stream_windows(ThreadPool& pool) {
  std::printf("streaming windows (live rendering)\n");
  AudioFrontEnd fe;
  const int W = fe.window_frames, M = fe.n_mels;
  for (int rate : {16000, 44100}) {
    const int64_t n = rate * 2 + 333;
    const std::vector<float> x = test_signal(n, rate, static_cast<uint32_t>(rate + 5));
    auto ref = compute_audio_features(&pool, x.data(), n, rate, fe);
    std::vector<float> want(static_cast<size_t>(W) * M), got(want.size());
    AudioStreamBuilder b(&pool, rate, fe);
    std::mt19937 rng(static_cast<uint32_t>(rate));
    std::uniform_int_distribution<int64_t> ud(1, rate / 20);
    int64_t next = 0, last_ready = 0;
    bool windows_ok = true, ready_exact = true, monotone = true;
    for (int64_t p = 0; p < n;) {
      const int64_t k = std::min(n - p, ud(rng));
      b.push(x.data() + p, k);
      p += k;
      const int64_t ready = b.frames_ready();
      monotone &= ready >= last_ready;
      last_ready = ready;
      // Ready means: every column of the window is computed, and not one frame more.
      if (ready > 0) ready_exact &= deform_window_start(ready - 1, fe) + W <= b.mel_frames();
      ready_exact &= deform_window_start(ready, fe) + W > b.mel_frames() || ready >= ref->frame_count;
      for (; next < ready; ++next) {
        auto w = b.window_features(next);
        deform_window(*w, next, fe, got.data());
        deform_window(*ref, next, fe, want.data());
        windows_ok &= std::memcmp(got.data(), want.data(), sizeof(float) * want.size()) == 0;
        b.discard_before_frame(next + 1);
      }
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "%d Hz: windows of %lld ready frames bit-identical to the finished track's", rate,
                  static_cast<long long>(next));
    check(windows_ok && next > 0, buf);
    check(ready_exact && monotone, "frames_ready: exactly the frames whose window is computed, monotone");
    expect_error("window not ready", ErrorCode::InvalidArgument, "audio window is complete",
                 [&] { b.window_features(b.frames_ready()); });
    auto a = b.finish();
    check(a->frame_count == ref->frame_count && a->mel_frames == ref->mel_frames && a->mel_origin > 0 &&
              a->logmel.dim(0) == a->mel_frames - a->mel_origin,
          "finished after discarding: same counts, columns from mel_origin on");
    bool tail_ok = true;
    for (int64_t t = next; t < ref->frame_count; ++t) {
      deform_window(*a, t, fe, got.data());
      deform_window(*ref, t, fe, want.data());
      tail_ok &= std::memcmp(got.data(), want.data(), sizeof(float) * want.size()) == 0;
    }
    check(tail_ok && next < ref->frame_count, "the last frames' windows from the trimmed track");
    expect_error("discarded column", ErrorCode::Internal, "not held", [&] { deform_window(*a, 0, fe, got.data()); });
  }
}

static void bench(ThreadPool& pool) {
  std::printf("timing (%d threads)\n", pool.size());
  AudioFrontEnd fe;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 0.1f);
  const int64_t n = 60 * 16000;
  std::vector<float> x(n);
  for (float& v : x) v = nd(rng);
  LogMel l(fe);
  Tensor o = Tensor::empty({l.frames(n), fe.n_mels});
  for (int serial = 0; serial < 2; ++serial) {
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      l.compute(serial ? nullptr : &pool, x.data(), n, o.data);
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("  log-mel 60 s @16 kHz (%s): %.1f ms\n", serial ? "1 thread" : "pool", best);
  }
  for (int rate : {44100, 48000}) {
    std::vector<float> y(static_cast<size_t>(60) * rate);
    for (float& v : y) v = nd(rng);
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      auto a = compute_audio_features(&pool, y.data(), static_cast<int64_t>(y.size()), rate, fe);
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("  resample+log-mel 60 s @%d Hz (pool): %.1f ms\n", rate, best);
  }
}

int main(int argc, char** argv) {
  ThreadPool pool(0);
  if (argc > 1 && std::string(argv[1]) == "--bench") {  // timings only, no checks
    bench(pool);
    return 0;
  }
  const std::string path = argc > 1 ? argv[1] : "tests/fixtures/audio.safetensors";
  try {
    test_fft();
    test_fixture(pool, path);
    test_errors(pool);
    test_stream(pool);
    test_stream_windows(pool);
  } catch (const std::exception& e) {
    std::printf("FAIL: exception: %s\n", e.what());
    return 1;
  }
  std::printf(g_failures ? "%d FAILURES\n" : "all audio checks passed\n", g_failures);
  return g_failures ? 1 : 0;
}
