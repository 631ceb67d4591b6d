// How a session's per-frame GEMMs and convolutions multiply (createSession's
// `precision`). Exact: fp32 throughout, what the parity tests check against
// PyTorch. Fast: the NeRF MLPs and the SR convolutions round their operands to
// bf16 and accumulate in fp32 (kernels/bf16.h), where the CPU has AVX512-BF16;
// on other CPUs Fast computes exactly what Exact does.
#pragma once
#include <string>

namespace s3d {

enum class Precision { Exact, Fast };

inline const char* precision_name(Precision p) { return p == Precision::Fast ? "fast" : "exact"; }

}  // namespace s3d
