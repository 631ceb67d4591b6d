// NeRF positional encoding gamma(x) of 3-D points (the deformation field's
// input, paper Eq. 4; positional_encoding in train/s3d_nerf/deformation_field.py).
#pragma once
#include <cstddef>

namespace s3d {

// gamma(x) = [x, sin(2^0 pi x), cos(2^0 pi x), ..., sin(2^(L-1) pi x), cos(..)]
// for n points (stride xs_stride) into columns [0, 3 + 6 freqs) of the rows
// of `out` (stride ldo). `tmp` holds pe_scratch_floats(n, freqs) floats.
// a = x * float(pi 2^k) as torch rounds the Python scalar; sin/cos by sincos_n
// (kernels/sincos.h: within ~1e-7 of libm; the double-angle recurrence would drift).
size_t pe_scratch_floats(int n, int freqs);
void positional_encoding(int n, const float* xs, int xs_stride, int freqs, float* out, int ldo, float* tmp);

}  // namespace s3d
