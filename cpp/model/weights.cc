#include "model/weights.h"

#include "core/error.h"
#include "core/json.h"

namespace s3d {

namespace {

[[noreturn]] void fail(const std::string& origin, const std::string& msg) {
  throw Error(ErrorCode::ModelFormat, origin + ": " + msg);
}

const std::string& require_key(const SafetensorsFile& f, const std::string& origin,
                               const std::string& key) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end())
    fail(origin, "not an s3d-nerf model file (metadata key \"" + key + "\" is missing)");
  return it->second;
}

std::string preview(const std::string& s) {
  return json_quote(s.size() > 40 ? s.substr(0, 37) + "..." : s);
}

}  // namespace

Weights Weights::load(const std::string& path) { return from_file(read_safetensors(path), path); }

Weights Weights::from_file(SafetensorsFile file, const std::string& origin) {
  Weights w;
  w.origin_ = origin;
  const std::string& format = require_key(file, origin, "format");
  if (format != kModelFormat)
    fail(origin, "not an s3d-nerf model file (metadata \"format\" is " + preview(format) + ")");
  const std::string& version = require_key(file, origin, "format_version");
  if (version != kModelFormatVersion)
    fail(origin, "Unsupported model format version " + preview(version) + " (this build reads " +
                     kModelFormatVersion + ")");
  const std::string& config = require_key(file, origin, "config");
  const std::string& provenance = require_key(file, origin, "provenance");
  try {
    w.config_ = parse_model_config(config);
  } catch (const Error& e) {
    fail(origin, e.what());
  }
  // Provenance is informational only, but it must at least be JSON.
  parse_json(provenance, origin + ": metadata \"provenance\"");
  w.provenance_json_ = provenance;

  JsonValue md = JsonValue::object();
  for (const auto& kv : file.metadata) md.set(kv.first, JsonValue::string(kv.second));
  w.metadata_json_ = to_json(md);
  w.file_ = std::move(file);
  return w;
}

const Tensor& Weights::get(const std::string& name, const Shape& expected) const {
  auto it = file_.tensors.find(name);
  if (it == file_.tensors.end())
    fail(origin_, "missing tensor " + json_quote(name) + " (expected shape " + shape_str(expected) + ")");
  const Shape& got = it->second.shape;
  bool ok = got.size() == expected.size();
  for (size_t i = 0; ok && i < got.size(); ++i) ok = expected[i] == -1 || expected[i] == got[i];
  if (!ok)
    fail(origin_, "Expected shape " + shape_str(expected) + " for tensor " + json_quote(name) +
                      " but received " + shape_str(got));
  used_.insert(name);
  return it->second;
}

const std::string& Weights::dtype(const std::string& name) const {
  auto it = file_.dtypes.find(name);
  if (it == file_.dtypes.end()) fail(origin_, "missing tensor " + json_quote(name));
  return it->second;
}

std::vector<std::string> Weights::names() const {
  std::vector<std::string> out;
  for (const auto& kv : file_.tensors) out.push_back(kv.first);
  return out;
}

void Weights::check_no_unused() const {
  for (const auto& kv : file_.tensors)
    if (!used_.count(kv.first))
      fail(origin_, "unexpected tensor " + json_quote(kv.first) + " " + shape_str(kv.second.shape) +
                        " is not used by this engine (exporter and engine disagree?)");
}

}  // namespace s3d
