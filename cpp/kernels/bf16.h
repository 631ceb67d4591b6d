// bfloat16 operands for the fast precision (Precision::Fast): the top 16 bits
// of an fp32, rounded to nearest even. A product of two bf16 is exact in fp32,
// so a bf16 GEMM that accumulates in fp32 (vdpbf16ps) loses only the rounding
// of its inputs, about 2^-9 relative per operand.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace s3d {

// Round to nearest even. Denormals become a signed zero, as vcvtne2ps2bf16 does.
inline uint16_t bf16_from_float(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float float_from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// True when the GEMM and conv kernels run bf16 panels: the CPU has AVX512-BF16
// and the avx512 kernels are in use (S3D_CPU_FEATURES can cap both away).
bool bf16_kernels_available();

// This thread's buffer for bf16 copies of activations, grown on demand and kept
// (the per-frame convs and MLP chunks reuse it instead of allocating). Valid
// until the same thread asks again; callers never nest.
uint16_t* bf16_thread_buffer(size_t n);

// rows x k fp32 (row stride lda) -> rows x k bf16 (row stride ldo). Writes
// exactly k values per row: a caller with an odd total zeroes the pair's other half.
void convert_rows_bf16(int rows, int k, const float* a, int64_t lda, uint16_t* out, int64_t ldo);

}  // namespace s3d
