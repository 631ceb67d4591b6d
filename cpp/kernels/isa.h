// Which SIMD code path the kernels use. Detection is done once; the result
// can be capped (never raised) with S3D_CPU_FEATURES=scalar|avx2|avx512 or,
// in tests and benchmarks, with set_kernel_isa_cap().
#pragma once

namespace s3d {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

Isa detected_isa();                // best the CPU + OS support (core/cpu_features.h)
Isa kernel_isa();                  // min(detected, env cap, set cap)
void set_kernel_isa_cap(Isa cap);  // overrides the env cap; for tests/benchmarks
const char* isa_name(Isa isa);     // "scalar", "avx2", "avx512"

}  // namespace s3d
