// sin and cos of a float array, for the positional encoding (kernels/posenc.h).
// Cody-Waite reduction by pi/2 and Cephes minimax polynomials on [-pi/4, pi/4]:
// within ~1e-7 of libm for |a| up to ~1e4 (about 1 ulp). Scalar, AVX2 and
// AVX-512 paths chosen by kernel_isa(); they differ only in FMA rounding.
#pragma once
#include <cstdint>

namespace s3d {

void sincos_n(int64_t n, const float* a, float* s, float* c);

}  // namespace s3d
