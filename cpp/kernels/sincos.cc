#include "kernels/sincos.h"

#include <cmath>

#include "kernels/x86_intrinsics.h"

#include "kernels/isa.h"

namespace s3d {

namespace {

// pi/2 in three parts (Cody-Waite); q * kP1 and q * kP2 are exact for |q| < 2^12.
constexpr float kTwoOverPi = 0.636619772367581343f;
constexpr float kP1 = 1.5703125f;
constexpr float kP2 = 4.837512969970703125e-4f;
constexpr float kP3 = 7.54978995489188216e-8f;
// Cephes sinf/cosf minimax coefficients on [-pi/4, pi/4].
constexpr float kS1 = -1.6666654611e-1f, kS2 = 8.3321608736e-3f, kS3 = -1.9515295891e-4f;
constexpr float kC1 = 4.166664568298827e-2f, kC2 = -1.388731625493765e-3f, kC3 = 2.443315711809948e-5f;

inline void sincos_scalar(float a, float& s, float& c) {
  const float q = std::nearbyint(a * kTwoOverPi);
  float r = a - q * kP1;
  r = r - q * kP2;
  r = r - q * kP3;
  const float z = r * r;
  const float sp = ((kS3 * z + kS2) * z + kS1) * z * r + r;
  const float cp = ((kC3 * z + kC2) * z + kC1) * z * z - 0.5f * z + 1.f;
  switch (static_cast<int>(q) & 3) {
    case 0: s = sp; c = cp; break;
    case 1: s = cp; c = -sp; break;
    case 2: s = -sp; c = -cp; break;
    default: s = -cp; c = sp; break;
  }
}

#ifdef S3D_X86
__attribute__((target("avx2,fma"))) void sincos_avx2(int64_t n, const float* a, float* s, float* c) {
  int64_t i = 0;
  const __m256 sign = _mm256_set1_ps(-0.f);
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(a + i);
    const __m256 q = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kTwoOverPi)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(q, _mm256_set1_ps(kP1), x);
    r = _mm256_fnmadd_ps(q, _mm256_set1_ps(kP2), r);
    r = _mm256_fnmadd_ps(q, _mm256_set1_ps(kP3), r);
    const __m256 z = _mm256_mul_ps(r, r);
    __m256 sp = _mm256_fmadd_ps(_mm256_set1_ps(kS3), z, _mm256_set1_ps(kS2));
    sp = _mm256_fmadd_ps(sp, z, _mm256_set1_ps(kS1));
    sp = _mm256_fmadd_ps(_mm256_mul_ps(sp, z), r, r);
    __m256 cp = _mm256_fmadd_ps(_mm256_set1_ps(kC3), z, _mm256_set1_ps(kC2));
    cp = _mm256_fmadd_ps(cp, z, _mm256_set1_ps(kC1));
    cp = _mm256_fmadd_ps(_mm256_mul_ps(cp, z), z, _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, _mm256_set1_ps(1.f)));
    const __m256i qi = _mm256_cvtps_epi32(q);
    // swap when q is odd; sin negative for q&3 in {2,3}; cos negative for {1,2}.
    const __m256 odd = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(qi, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
    const __m256 ss = _mm256_blendv_ps(sp, cp, odd);
    const __m256 cc = _mm256_blendv_ps(cp, sp, odd);
    const __m256 sneg = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(qi, _mm256_set1_epi32(2)), 30));
    const __m256 cneg = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_and_si256(_mm256_add_epi32(qi, _mm256_set1_epi32(1)), _mm256_set1_epi32(2)), 30));
    _mm256_storeu_ps(s + i, _mm256_xor_ps(ss, _mm256_and_ps(sneg, sign)));
    _mm256_storeu_ps(c + i, _mm256_xor_ps(cc, _mm256_and_ps(cneg, sign)));
  }
  for (; i < n; ++i) sincos_scalar(a[i], s[i], c[i]);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))) void sincos_avx512(int64_t n, const float* a,
                                                                                      float* s, float* c) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(a + i);
    // Masked forms with an explicit source: the unmasked intrinsics trip
    // GCC 12's -Wmaybe-uninitialized inside its own headers.
    const __m512 q = _mm512_mask_roundscale_ps(_mm512_setzero_ps(), 0xFFFF,
                                               _mm512_mul_ps(x, _mm512_set1_ps(kTwoOverPi)),
                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(q, _mm512_set1_ps(kP1), x);
    r = _mm512_fnmadd_ps(q, _mm512_set1_ps(kP2), r);
    r = _mm512_fnmadd_ps(q, _mm512_set1_ps(kP3), r);
    const __m512 z = _mm512_mul_ps(r, r);
    __m512 sp = _mm512_fmadd_ps(_mm512_set1_ps(kS3), z, _mm512_set1_ps(kS2));
    sp = _mm512_fmadd_ps(sp, z, _mm512_set1_ps(kS1));
    sp = _mm512_fmadd_ps(_mm512_mul_ps(sp, z), r, r);
    __m512 cp = _mm512_fmadd_ps(_mm512_set1_ps(kC3), z, _mm512_set1_ps(kC2));
    cp = _mm512_fmadd_ps(cp, z, _mm512_set1_ps(kC1));
    cp = _mm512_fmadd_ps(_mm512_mul_ps(cp, z), z, _mm512_fnmadd_ps(_mm512_set1_ps(0.5f), z, _mm512_set1_ps(1.f)));
    const __m512i qi = _mm512_mask_cvtps_epi32(_mm512_setzero_si512(), 0xFFFF, q);
    const __mmask16 odd = _mm512_test_epi32_mask(qi, _mm512_set1_epi32(1));
    const __mmask16 sneg = _mm512_test_epi32_mask(qi, _mm512_set1_epi32(2));
    const __mmask16 cneg = _mm512_test_epi32_mask(_mm512_add_epi32(qi, _mm512_set1_epi32(1)), _mm512_set1_epi32(2));
    __m512 ss = _mm512_mask_blend_ps(odd, sp, cp);
    __m512 cc = _mm512_mask_blend_ps(odd, cp, sp);
    ss = _mm512_mask_sub_ps(ss, sneg, _mm512_setzero_ps(), ss);
    cc = _mm512_mask_sub_ps(cc, cneg, _mm512_setzero_ps(), cc);
    _mm512_storeu_ps(s + i, ss);
    _mm512_storeu_ps(c + i, cc);
  }
  for (; i < n; ++i) sincos_scalar(a[i], s[i], c[i]);
}
#endif

}  // namespace

void sincos_n(int64_t n, const float* a, float* s, float* c) {
#ifdef S3D_X86
  const Isa isa = kernel_isa();
  if (isa == Isa::Avx512) return sincos_avx512(n, a, s, c);
  if (isa == Isa::Avx2) return sincos_avx2(n, a, s, c);
#endif
  for (int64_t i = 0; i < n; ++i) sincos_scalar(a[i], s[i], c[i]);
}

}  // namespace s3d
