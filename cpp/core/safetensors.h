// Reader/writer for the safetensors container (https://github.com/huggingface/safetensors):
// u64 little-endian header length N, N bytes of JSON header, then the raw
// little-endian tensor data. Every tensor is converted to fp32 on load; the
// original dtype is kept for diagnostics. Input is untrusted: everything is
// validated and the first problem is reported as Error(ModelFormat) naming
// the file and the tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "core/tensor.h"

namespace s3d {

struct SafetensorsFile {
  TensorMap tensors;                            // all converted to fp32
  std::map<std::string, std::string> metadata;  // "__metadata__" (string -> string)
  std::map<std::string, std::string> dtypes;    // original dtype per tensor ("F32","F16","BF16")
};

// Largest header accepted; real headers are a few hundred KB at most.
constexpr uint64_t kSafetensorsMaxHeader = 100ull << 20;

SafetensorsFile read_safetensors(const std::string& path);  // reads the whole file
// `origin` prefixes every message (normally the path).
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& origin);
// Writes fp32 tensors (sorted by name, contiguous, header padded to 8 bytes).
// For tests and debugging; throws Error(InvalidArgument) on I/O failure.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace s3d
