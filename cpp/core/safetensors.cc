#include "core/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/json.h"

namespace s3d {

namespace {

[[noreturn]] void format_error(const std::string& origin, const std::string& msg) {
  throw Error(ErrorCode::ModelFormat, origin + ": " + msg);
}

[[noreturn]] void tensor_error(const std::string& origin, const std::string& name,
                               const std::string& msg) {
  throw Error(ErrorCode::ModelFormat, origin + ": tensor " + json_quote(name) + ": " + msg);
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A JSON number that is an exact non-negative integer below 2^53.
bool as_index(const JsonValue& v, uint64_t* out) {
  if (!v.is_number()) return false;
  double d = v.as_number();
  if (!(d >= 0) || d > 9007199254740992.0 || std::floor(d) != d) return false;
  *out = static_cast<uint64_t>(d);
  return true;
}

struct Entry {
  std::string name;
  std::string dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

void convert(const Entry& e, const uint8_t* src, float* dst, int64_t n) {
  if (e.dtype == "F32") {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
#else
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* p = src + 4 * i;
      dst[i] = bits_float(uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
                          uint32_t(p[3]) << 24);
    }
#endif
  } else if (e.dtype == "F16") {
    for (int64_t i = 0; i < n; ++i)
      dst[i] = fp16_to_fp32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
  } else {  // BF16
    for (int64_t i = 0; i < n; ++i)
      dst[i] = bf16_to_fp32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
  }
}

}  // namespace

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& origin) {
  if (size < 8)
    format_error(origin, "file is " + std::to_string(size) +
                             " bytes, too small for the 8-byte safetensors header length");
  const uint64_t header_len = read_u64_le(data);
  if (header_len > kSafetensorsMaxHeader)
    format_error(origin, "safetensors header length " + std::to_string(header_len) +
                             " is larger than the limit of " +
                             std::to_string(kSafetensorsMaxHeader) + " bytes (not a safetensors file?)");
  if (header_len > size - 8)
    format_error(origin, "safetensors header length " + std::to_string(header_len) +
                             " runs past the end of the file (" + std::to_string(size) + " bytes)");
  const char* header = reinterpret_cast<const char*>(data + 8);
  const uint8_t* section = data + 8 + header_len;
  const uint64_t section_size = size - 8 - header_len;

  JsonValue root = parse_json(header, static_cast<size_t>(header_len),
                              origin + ": safetensors header", kSafetensorsMaxHeader);
  if (!root.is_object())
    format_error(origin, std::string("safetensors header must be a JSON object but is a ") +
                             root.type_name());

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& m : root.members()) {
    const std::string& name = m.first;
    const JsonValue& v = m.second;
    if (name == "__metadata__") {
      if (!v.is_object())
        format_error(origin, std::string("__metadata__ must be an object of strings but is a ") +
                                 v.type_name());
      for (const auto& kv : v.members()) {
        if (!kv.second.is_string())
          format_error(origin, "__metadata__ value for key " + json_quote(kv.first) +
                                   " must be a string but is a " + kv.second.type_name());
        out.metadata[kv.first] = kv.second.as_string();
      }
      continue;
    }
    if (!v.is_object())
      tensor_error(origin, name, std::string("entry must be an object but is a ") + v.type_name());

    Entry e;
    e.name = name;
    const JsonValue* dtype = v.find("dtype");
    if (!dtype) tensor_error(origin, name, "missing \"dtype\"");
    if (!dtype->is_string())
      tensor_error(origin, name, "dtype must be a string but received " + json_preview(*dtype));
    e.dtype = dtype->as_string();
    const size_t esize = dtype_size(e.dtype);
    if (esize == 0)
      tensor_error(origin, name, "unsupported dtype " + json_quote(e.dtype) +
                                     " (supported: F32, F16, BF16)");

    const JsonValue* shape = v.find("shape");
    if (!shape) tensor_error(origin, name, "missing \"shape\"");
    if (!shape->is_array())
      tensor_error(origin, name, "shape must be an array of non-negative integers but received " +
                                     json_preview(*shape));
    // Running product in int64 (as shape_numel computes it), so every prefix
    // must fit even when a later dimension is 0.
    int64_t numel = 1;
    bool overflow = false;
    for (const auto& d : shape->items()) {
      uint64_t dim;
      if (!as_index(d, &dim))
        tensor_error(origin, name, "shape must be an array of non-negative integers but received " +
                                       json_preview(*shape));
      e.shape.push_back(static_cast<int64_t>(dim));
      if (__builtin_mul_overflow(numel, static_cast<int64_t>(dim), &numel)) overflow = true;
    }
    uint64_t nbytes = 0;
    if (overflow || __builtin_mul_overflow(static_cast<uint64_t>(numel), esize, &nbytes))
      tensor_error(origin, name, "element count of shape " + shape_str(e.shape) + " overflows");

    const JsonValue* offs = v.find("data_offsets");
    if (!offs) tensor_error(origin, name, "missing \"data_offsets\"");
    if (!offs->is_array() || offs->items().size() != 2 || !as_index(offs->items()[0], &e.begin) ||
        !as_index(offs->items()[1], &e.end))
      tensor_error(origin, name, "data_offsets must be [begin, end] with non-negative integers but received " +
                                     json_preview(*offs));
    if (e.begin > e.end)
      tensor_error(origin, name, "data_offsets begin " + std::to_string(e.begin) +
                                     " is after end " + std::to_string(e.end));
    if (e.end > section_size)
      tensor_error(origin, name, "data_offsets end " + std::to_string(e.end) +
                                     " is past the end of the data section (" +
                                     std::to_string(section_size) + " bytes)");
    if (e.end - e.begin != nbytes)
      tensor_error(origin, name, "data_offsets cover " + std::to_string(e.end - e.begin) +
                                     " bytes but shape " + shape_str(e.shape) + " of " + e.dtype +
                                     " needs " + std::to_string(nbytes) + " bytes");
    entries.push_back(std::move(e));
  }

  // Overlap check: sort byte ranges by start; empty ranges overlap nothing.
  std::vector<const Entry*> by_begin;
  for (const auto& e : entries)
    if (e.end > e.begin) by_begin.push_back(&e);
  std::sort(by_begin.begin(), by_begin.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < by_begin.size(); ++i) {
    const Entry* a = by_begin[i - 1];
    const Entry* b = by_begin[i];
    if (b->begin < a->end)
      tensor_error(origin, b->name, "data_offsets [" + std::to_string(b->begin) + ", " +
                                        std::to_string(b->end) + "] overlap those of tensor " +
                                        json_quote(a->name) + " [" + std::to_string(a->begin) +
                                        ", " + std::to_string(a->end) + "]");
  }

  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape);
    convert(e, section + e.begin, t.data, t.numel());
    out.tensors.emplace(e.name, std::move(t));
    out.dtypes.emplace(e.name, e.dtype);
  }
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    throw Error(ErrorCode::ModelFormat,
                "Cannot open model file " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> buf;
  std::vector<uint8_t> chunk(1 << 20);
  for (;;) {
    size_t got = std::fread(chunk.data(), 1, chunk.size(), f);
    buf.insert(buf.end(), chunk.begin(), chunk.begin() + got);
    if (got < chunk.size()) break;
  }
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed)
    throw Error(ErrorCode::ModelFormat, "Cannot read model file " + path + ": " + std::strerror(err));
  return parse_safetensors(buf.data(), buf.size(), path);
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  JsonValue header = JsonValue::object();
  if (!metadata.empty()) {
    JsonValue md = JsonValue::object();
    for (const auto& kv : metadata) md.set(kv.first, JsonValue::string(kv.second));
    header.set("__metadata__", std::move(md));
  }
  uint64_t offset = 0;
  for (const auto& kv : tensors) {
    JsonValue shape = JsonValue::array();
    for (int64_t d : kv.second.shape) shape.push_back(JsonValue::number(static_cast<double>(d)));
    const uint64_t nbytes = static_cast<uint64_t>(kv.second.numel()) * 4;
    JsonValue entry = JsonValue::object();
    entry.set("dtype", JsonValue::string("F32"));
    entry.set("shape", std::move(shape));
    entry.set("data_offsets", JsonValue::array({JsonValue::number(double(offset)),
                                                JsonValue::number(double(offset + nbytes))}));
    header.set(kv.first, std::move(entry));
    offset += nbytes;
  }
  std::string h = to_json(header);
  while (h.size() % 8) h += ' ';  // keeps the data section 8-byte aligned

  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f)
    throw Error(ErrorCode::InvalidArgument, "Cannot create " + path + ": " + std::strerror(errno));
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t(h.size()) >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
  for (const auto& kv : tensors) {
    if (!ok) break;
    const Tensor& t = kv.second;
    const size_t n = static_cast<size_t>(t.numel());
    if (n == 0) continue;
    std::vector<uint8_t> bytes(n * 4);
    for (size_t i = 0; i < n; ++i) {
      uint32_t u = float_bits(t.data[i]);
      for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<uint8_t>(u >> (8 * b));
    }
    ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  }
  int err = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) throw Error(ErrorCode::InvalidArgument, "Cannot write " + path + ": " + std::strerror(err));
}

}  // namespace s3d
