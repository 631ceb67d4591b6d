#include "kernels/bf16.h"

#include <memory>

#include "core/cpu_features.h"
#include "kernels/isa.h"
#include "kernels/x86_intrinsics.h"

namespace s3d {

namespace {

void convert_row_scalar(int k, const float* a, uint16_t* out) {
  for (int i = 0; i < k; ++i) out[i] = bf16_from_float(a[i]);
}

#ifdef S3D_HAVE_BF16
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void convert_row_avx512(int k, const float* a,
                                                                                        uint16_t* out) {
  int i = 0;
  for (; i + 32 <= k; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(a + i));
    _mm512_storeu_si512(out + i, (__m512i)v);
  }
  if (i < k) {  // the tail: masked loads and store
    const int n = k - i;
    const __mmask16 lo = n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1);
    const __mmask16 hi = n <= 16 ? __mmask16(0) : __mmask16((1u << (n - 16)) - 1);
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, a + i + 16), _mm512_maskz_loadu_ps(lo, a + i));
    _mm512_mask_storeu_epi16(out + i, __mmask32((1u << n) - 1), (__m512i)v);
  }
}
#endif

}  // namespace

bool bf16_kernels_available() {
#ifdef S3D_HAVE_BF16
  static const bool ok = cpu_features().avx512_bf16 && cpu_features().avx512_core();
  return ok && kernel_isa() == Isa::Avx512;
#else
  return false;
#endif
}

uint16_t* bf16_thread_buffer(size_t n) {
  thread_local std::unique_ptr<uint16_t[]> buf;
  thread_local size_t cap = 0;
  if (n > cap) {
    buf.reset(new uint16_t[n]);
    cap = n;
  }
  return buf.get();
}

void convert_rows_bf16(int rows, int k, const float* a, int64_t lda, uint16_t* out, int64_t ldo) {
#ifdef S3D_HAVE_BF16
  if (bf16_kernels_available()) {
    for (int r = 0; r < rows; ++r) convert_row_avx512(k, a + r * lda, out + r * ldo);
    return;
  }
#endif
  for (int r = 0; r < rows; ++r) convert_row_scalar(k, a + r * lda, out + r * ldo);
}

}  // namespace s3d
