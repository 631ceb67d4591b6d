// The model file: a safetensors file whose "__metadata__" carries the
// s3d-nerf format marker, the model config and the exporter's provenance.
// Stages fetch their tensors by name with the shape they expect; anything
// wrong is reported as Error(ModelFormat) naming the file and the tensor.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "core/safetensors.h"
#include "core/tensor.h"

namespace s3d {

constexpr const char* kModelFormat = "s3d-nerf";
constexpr const char* kModelFormatVersion = "1";

class Weights {
 public:
  // Reads and validates the file and its metadata:
  //   format == "s3d-nerf", format_version == "1",
  //   config = JSON (parse_model_config), provenance = JSON (kept as text).
  static Weights load(const std::string& path);
  // Same checks on an already parsed file (tests; `origin` prefixes messages).
  static Weights from_file(SafetensorsFile file, const std::string& origin);

  const ModelConfig& config() const { return config_; }
  const std::string& metadata_json() const { return metadata_json_; }  // whole __metadata__ object
  const std::string& provenance_json() const { return provenance_json_; }
  const std::string& origin() const { return origin_; }

  // fp32 tensor in PyTorch layout. A -1 in `expected` matches any size.
  // Throws `missing tensor "x" (expected shape [..])` or
  // `Expected shape [a, b] for tensor "x" but received [c, d]`.
  // Marks the tensor as used (see check_no_unused). Not thread-safe: call
  // from the loading thread only.
  const Tensor& get(const std::string& name, const Shape& expected) const;
  bool has(const std::string& name) const { return file_.tensors.count(name) != 0; }
  const std::string& dtype(const std::string& name) const;  // "F32", "F16", "BF16"
  std::vector<std::string> names() const;

  // Throws naming the first (in name order) tensor never fetched with get():
  // a leftover tensor means the exporter and the engine disagree.
  void check_no_unused() const;

 private:
  std::string origin_;
  SafetensorsFile file_;
  ModelConfig config_;
  std::string metadata_json_;
  std::string provenance_json_;
  mutable std::set<std::string> used_;
};

}  // namespace s3d
