#include "kernels/bilinear.h"

#include "kernels/x86_intrinsics.h"

#include "kernels/isa.h"

namespace s3d {

#ifdef S3D_X86
namespace {
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))) void combine_avx512(const BilinearTaps& t, int C,
                                                                                      float* out) {
  for (int c = 0; c < C; c += 16) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(t.p[0] + c), _mm512_set1_ps(t.w[0]));
    v = _mm512_fmadd_ps(_mm512_loadu_ps(t.p[1] + c), _mm512_set1_ps(t.w[1]), v);
    v = _mm512_fmadd_ps(_mm512_loadu_ps(t.p[2] + c), _mm512_set1_ps(t.w[2]), v);
    v = _mm512_fmadd_ps(_mm512_loadu_ps(t.p[3] + c), _mm512_set1_ps(t.w[3]), v);
    _mm512_storeu_ps(out + c, v);
  }
}
__attribute__((target("avx2,fma"))) void combine_avx2(const BilinearTaps& t, int C, float* out) {
  for (int c = 0; c < C; c += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(t.p[0] + c), _mm256_set1_ps(t.w[0]));
    v = _mm256_fmadd_ps(_mm256_loadu_ps(t.p[1] + c), _mm256_set1_ps(t.w[1]), v);
    v = _mm256_fmadd_ps(_mm256_loadu_ps(t.p[2] + c), _mm256_set1_ps(t.w[2]), v);
    v = _mm256_fmadd_ps(_mm256_loadu_ps(t.p[3] + c), _mm256_set1_ps(t.w[3]), v);
    _mm256_storeu_ps(out + c, v);
  }
}
}  // namespace
#endif

void sample_map_hwc(const float* map, int h, int w, int C, float gx, float gy, const float* zeros,
                    float* out) {
  BilinearTaps t;
  bilinear_taps(map, h, w, C, gx, gy, zeros, t);
#ifdef S3D_X86
  const Isa isa = kernel_isa();
  if (isa == Isa::Avx512 && C % 16 == 0) return combine_avx512(t, C, out);
  if (isa >= Isa::Avx2 && C % 8 == 0) return combine_avx2(t, C, out);
#endif
  for (int c = 0; c < C; ++c) out[c] = bilinear_combine(t.p[0][c], t.p[1][c], t.p[2][c], t.p[3][c], t.w);
}

}  // namespace s3d
