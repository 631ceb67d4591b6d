// The x86 intrinsics, for kernel files with AVX2/AVX-512 paths. Defines S3D_X86
// when they are available (the scalar paths build everywhere).
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
// GCC 12 flags its own _mm512_undefined_*() inside the intrinsics headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define S3D_X86 1
#endif
