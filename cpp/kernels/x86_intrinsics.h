// The x86 intrinsics, for kernel files with AVX2/AVX-512 paths. Defines S3D_X86
// when they are available (the scalar paths build everywhere).
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
// GCC 12 flags its own _mm512_undefined_*() inside the intrinsics headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define S3D_X86 1
// The AVX512-BF16 intrinsics (__m512bh, vdpbf16ps) came with GCC 10 and clang 9;
// older compilers build without the fast precision's bf16 kernels.
#if (defined(__clang__) && __clang_major__ >= 9) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 10)
#define S3D_HAVE_BF16 1
#endif
#endif
