#include "core/cpu_features.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define S3D_X86 1
#endif
#if defined(__linux__) && defined(S3D_X86)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace s3d {

namespace {

#ifdef S3D_X86
bool cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  if (static_cast<uint32_t>(__get_cpuid_max(leaf & 0x80000000u, nullptr)) < leaf) {
    r[0] = r[1] = r[2] = r[3] = 0;
    return false;
  }
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
  return true;
}

// XGETBV(0) via raw asm: the intrinsic would need -mxsave on this file.
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef S3D_X86
  uint32_t r[4];
  cpuid(1, 0, r);
  const bool osxsave = r[2] & (1u << 27);
  const bool avx = r[2] & (1u << 28);
  const bool fma = r[2] & (1u << 12);
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;                  // SSE + AVX state
  const bool os_zmm = os_ymm && (xcr0 & 0xE0) == 0xE0;      // opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_amx = (xcr0 & (3ull << 17)) == (3ull << 17);  // XTILECFG + XTILEDATA

  uint32_t l7[4], l7s1[4];
  cpuid(7, 0, l7);
  if (l7[0] >= 1) cpuid(7, 1, l7s1);  // EAX of subleaf 0 = highest valid subleaf
  else l7s1[0] = l7s1[1] = l7s1[2] = l7s1[3] = 0;
  const uint32_t ebx = l7[1], edx = l7[3];

  f.avx2 = avx && os_ymm && (ebx & (1u << 5));
  f.fma = avx && os_ymm && fma;
  f.avx512f = os_zmm && (ebx & (1u << 16));
  f.avx512dq = f.avx512f && (ebx & (1u << 17));
  f.avx512bw = f.avx512f && (ebx & (1u << 30));
  f.avx512vl = f.avx512f && (ebx & (1u << 31));
  f.avx512_bf16 = f.avx512f && (l7s1[0] & (1u << 5));
  f.avx512_fp16 = f.avx512f && (edx & (1u << 23));
  f.amx_tile = os_amx && (edx & (1u << 24));
  f.amx_bf16 = f.amx_tile && (edx & (1u << 22));
  f.amx_int8 = f.amx_tile && (edx & (1u << 25));

  uint32_t b[12];
  if (cpuid(0x80000004u, 0, b + 8)) {
    cpuid(0x80000002u, 0, b);
    cpuid(0x80000003u, 0, b + 4);
    char s[49];
    std::memcpy(s, b, 48);
    s[48] = 0;
    f.brand = s;
    size_t a = f.brand.find_first_not_of(' ');
    size_t z = f.brand.find_last_not_of(' ');
    f.brand = a == std::string::npos ? "" : f.brand.substr(a, z - a + 1);
  }
#endif
  if (f.brand.empty()) f.brand = "unknown CPU";

  if (const char* cap = std::getenv("S3D_CPU_FEATURES")) {
    std::string c = cap;
    bool known = c == "scalar" || c == "avx2" || c == "avx512" || c == "native" || c.empty();
    if (!known) {
      std::fprintf(stderr,
                   "s3d-nerf: ignoring S3D_CPU_FEATURES=%s (expected scalar, avx2 or avx512)\n",
                   cap);
    } else if (c != "native" && !c.empty()) {
      f.cap = c;
      f.amx_tile = f.amx_bf16 = f.amx_int8 = false;
      if (c != "avx512")
        f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512_bf16 = f.avx512_fp16 = false;
      if (c == "scalar") f.avx2 = f.fma = false;
    }
  }
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool enable_amx() {
  static const bool ok = [] {
    if (!cpu_features().amx_tile) return false;
#if defined(__linux__) && defined(S3D_X86) && defined(SYS_arch_prctl)
    constexpr int kArchReqXcompPerm = 0x1023;
    constexpr int kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;  // other OSes: not wired up; use the AVX-512 path
#endif
  }();
  return ok;
}

std::string cpu_features_string() {
  const CpuFeatures& f = cpu_features();
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  add(f.avx512_bf16, "avx512_bf16");
  add(f.avx512_fp16, "avx512_fp16");
  add(f.amx_tile, "amx_tile");
  add(f.amx_bf16, "amx_bf16");
  add(f.amx_int8, "amx_int8");
  if (s.empty()) s = "scalar";
  s += " | " + f.brand;
  if (!f.cap.empty()) s += " | capped by S3D_CPU_FEATURES=" + f.cap;
  return s;
}

}  // namespace s3d
