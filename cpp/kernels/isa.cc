#include "kernels/isa.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/cpu_features.h"

namespace s3d {

namespace {

Isa detect() {
  const CpuFeatures& f = cpu_features();  // already honours S3D_CPU_FEATURES
  if (f.avx512_core()) return Isa::Avx512;
  if (f.avx2_fma()) return Isa::Avx2;
  return Isa::Scalar;
}

// Re-read here too so the cap holds even if cpu_features() changes policy.
Isa env_cap() {
  const char* v = std::getenv("S3D_CPU_FEATURES");
  if (!v || !*v) return Isa::Avx512;
  if (!std::strcmp(v, "scalar") || !std::strcmp(v, "none")) return Isa::Scalar;
  if (!std::strcmp(v, "avx2")) return Isa::Avx2;
  return Isa::Avx512;
}

std::atomic<int> g_isa{-1};
std::atomic<int> g_cap{-1};

}  // namespace

Isa detected_isa() {
  static const Isa d = detect();
  return d;
}

Isa kernel_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v >= 0) return static_cast<Isa>(v);
  int cap = g_cap.load();
  Isa c = cap >= 0 ? static_cast<Isa>(cap) : env_cap();
  Isa d = detected_isa();
  Isa r = static_cast<int>(c) < static_cast<int>(d) ? c : d;
  g_isa.store(static_cast<int>(r));
  return r;
}

void set_kernel_isa_cap(Isa cap) {
  g_cap.store(static_cast<int>(cap));
  g_isa.store(-1);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

}  // namespace s3d
