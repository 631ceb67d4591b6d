#include "kernels/posenc.h"

#include <cmath>
#include <cstdint>

#include "kernels/sincos.h"

namespace s3d {

size_t pe_scratch_floats(int n, int freqs) { return static_cast<size_t>(n) * 3 * freqs * 3; }

void positional_encoding(int n, const float* xs, int xs_stride, int freqs, float* out, int ldo, float* tmp) {
  const int per = 3 * freqs;  // angles per point
  float* ang = tmp;
  float* sn = tmp + static_cast<size_t>(n) * per;
  float* cs = sn + static_cast<size_t>(n) * per;
  // a = x * float(pi * 2^k), as torch multiplies a float tensor by a Python scalar.
  float mult[32];
  for (int k = 0; k < freqs && k < 32; ++k) mult[k] = static_cast<float>(M_PI * std::ldexp(1.0, k));
  for (int i = 0; i < n; ++i) {
    const float* x = xs + static_cast<int64_t>(i) * xs_stride;
    float* a = ang + static_cast<size_t>(i) * per;
    for (int k = 0; k < freqs; ++k)
      for (int j = 0; j < 3; ++j) a[k * 3 + j] = x[j] * mult[k];
  }
  sincos_n(static_cast<int64_t>(n) * per, ang, sn, cs);
  for (int i = 0; i < n; ++i) {
    const float* x = xs + static_cast<int64_t>(i) * xs_stride;
    float* o = out + static_cast<int64_t>(i) * ldo;
    const float* si = sn + static_cast<size_t>(i) * per;
    const float* ci = cs + static_cast<size_t>(i) * per;
    o[0] = x[0];
    o[1] = x[1];
    o[2] = x[2];
    for (int k = 0; k < freqs; ++k)
      for (int j = 0; j < 3; ++j) {
        o[3 + 6 * k + j] = si[k * 3 + j];
        o[6 + 6 * k + j] = ci[k * 3 + j];
      }
  }
}

}  // namespace s3d
