// Run-time CPU feature detection for SIMD dispatch (CONVENTIONS: SIMD).
// A feature is reported only when the CPU has it AND the OS saves the
// register state it needs (XCR0), so a kernel without AVX-512 state support
// correctly falls back to AVX2.
//
// S3D_CPU_FEATURES=scalar|avx2|avx512 caps what is reported (read once, at
// first call), so tests can exercise every fallback path on one machine.
#pragma once
#include <string>

namespace s3d {

struct CpuFeatures {
  bool avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_bf16 = false, avx512_fp16 = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;
  std::string brand;  // e.g. "Intel(R) Xeon(R) Platinum 8480+"
  std::string cap;    // S3D_CPU_FEATURES value applied ("" when none)

  // The full AVX-512 subset the engine's avx512 kernels are compiled for.
  bool avx512_core() const { return avx512f && avx512bw && avx512vl && avx512dq && fma; }
  bool avx2_fma() const { return avx2 && fma; }
};

const CpuFeatures& cpu_features();  // detected once, thread-safe

// AMX tile data needs a per-process permission from Linux
// (arch_prctl ARCH_REQ_XCOMP_PERM). Asks once; true when AMX can be used now.
// Always false when cpu_features() does not report amx_tile.
bool enable_amx();

// "avx2 fma avx512f ... | Intel(R) ... | cap=avx2" for diagnostics.
std::string cpu_features_string();

}  // namespace s3d
