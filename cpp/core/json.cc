#include "core/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_set>
#include <limits>

#include "core/error.h"

namespace s3d {

// ---------------------------------------------------------------- DOM

JsonValue JsonValue::boolean(bool b) {
  JsonValue v;
  v.type_ = Type::Bool;
  v.bool_ = b;
  return v;
}
JsonValue JsonValue::number(double d) {
  JsonValue v;
  v.type_ = Type::Number;
  v.num_ = d;
  return v;
}
JsonValue JsonValue::string(std::string s) {
  JsonValue v;
  v.type_ = Type::String;
  v.str_ = std::move(s);
  return v;
}
JsonValue JsonValue::array(std::vector<JsonValue> items) {
  JsonValue v;
  v.type_ = Type::Array;
  v.items_ = std::move(items);
  return v;
}
JsonValue JsonValue::object(std::vector<Member> members) {
  JsonValue v;
  v.type_ = Type::Object;
  v.members_ = std::move(members);
  return v;
}

const char* JsonValue::type_name() const {
  switch (type_) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

static void expect_type(const JsonValue& v, JsonValue::Type t, const char* what) {
  if (v.type() != t)
    throw Error(ErrorCode::Internal, std::string("JSON value is a ") + v.type_name() +
                                         ", not " + what);
}

bool JsonValue::as_bool() const {
  expect_type(*this, Type::Bool, "a boolean");
  return bool_;
}
double JsonValue::as_number() const {
  expect_type(*this, Type::Number, "a number");
  return num_;
}
const std::string& JsonValue::as_string() const {
  expect_type(*this, Type::String, "a string");
  return str_;
}
const std::vector<JsonValue>& JsonValue::items() const {
  expect_type(*this, Type::Array, "an array");
  return items_;
}
const std::vector<JsonValue::Member>& JsonValue::members() const {
  expect_type(*this, Type::Object, "an object");
  return members_;
}

const JsonValue* JsonValue::find(const std::string& key) const {
  if (type_ != Type::Object) return nullptr;
  for (const auto& m : members_)
    if (m.first == key) return &m.second;
  return nullptr;
}

void JsonValue::push_back(JsonValue v) {
  expect_type(*this, Type::Array, "an array");
  items_.push_back(std::move(v));
}

void JsonValue::set(const std::string& key, JsonValue v) {
  expect_type(*this, Type::Object, "an object");
  for (auto& m : members_)
    if (m.first == key) {
      m.second = std::move(v);
      return;
    }
  members_.emplace_back(key, std::move(v));
}

// ---------------------------------------------------------------- parser

namespace {

class Parser {
 public:
  Parser(const char* data, size_t size, const std::string& origin)
      : p_(reinterpret_cast<const unsigned char*>(data)), n_(size), origin_(origin) {}

  JsonValue parse_document() {
    skip_ws();
    JsonValue v = parse_value(0);
    skip_ws();
    if (i_ != n_) fail("unexpected trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { fail_at(why, i_); }
  [[noreturn]] void fail_at(const std::string& why, size_t at) const {
    throw Error(ErrorCode::ModelFormat,
                origin_ + ": invalid JSON: " + why + " at byte " + std::to_string(at));
  }

  void skip_ws() {
    while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) ++i_;
  }

  std::string describe_here() const {
    if (i_ >= n_) return "end of input";
    unsigned char c = p_[i_];
    if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
    char buf[16];
    std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
    return buf;
  }

  JsonValue parse_value(int depth) {
    if (i_ >= n_) fail("unexpected end of input, expected a value");
    switch (p_[i_]) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': return JsonValue::string(parse_string());
      case 't': expect_word("true"); return JsonValue::boolean(true);
      case 'f': expect_word("false"); return JsonValue::boolean(false);
      case 'n': expect_word("null"); return JsonValue::null();
      default:
        if (p_[i_] == '-' || (p_[i_] >= '0' && p_[i_] <= '9')) return parse_number();
        fail("unexpected " + describe_here() + ", expected a value");
    }
  }

  void expect_word(const char* w) {
    size_t len = std::strlen(w);
    if (n_ - i_ < len || std::memcmp(p_ + i_, w, len) != 0) fail("invalid literal");
    i_ += len;
  }

  void check_depth(int depth) {
    if (depth > kJsonMaxDepth)
      fail("nesting deeper than " + std::to_string(kJsonMaxDepth) + " levels");
  }

  JsonValue parse_object(int depth) {
    check_depth(depth);
    ++i_;  // '{'
    std::vector<JsonValue::Member> members;
    std::unordered_set<std::string> seen;  // only for large objects
    skip_ws();
    if (i_ < n_ && p_[i_] == '}') {
      ++i_;
      return JsonValue::object(std::move(members));
    }
    for (;;) {
      skip_ws();
      if (i_ >= n_ || p_[i_] != '"') fail("unexpected " + describe_here() + ", expected a string key");
      size_t key_at = i_;
      std::string key = parse_string();
      // Duplicate keys are legal JSON but ambiguous; reject them.
      if (members.size() < 16) {
        for (const auto& m : members)
          if (m.first == key) fail_at("duplicate key " + json_quote(key), key_at);
      } else {
        if (seen.empty())
          for (const auto& m : members) seen.insert(m.first);
        if (!seen.insert(key).second) fail_at("duplicate key " + json_quote(key), key_at);
      }
      skip_ws();
      if (i_ >= n_ || p_[i_] != ':') fail("unexpected " + describe_here() + ", expected ':'");
      ++i_;
      skip_ws();
      JsonValue v = parse_value(depth);
      members.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (i_ < n_ && p_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < n_ && p_[i_] == '}') {
        ++i_;
        return JsonValue::object(std::move(members));
      }
      fail("unexpected " + describe_here() + ", expected ',' or '}'");
    }
  }

  JsonValue parse_array(int depth) {
    check_depth(depth);
    ++i_;  // '['
    std::vector<JsonValue> items;
    skip_ws();
    if (i_ < n_ && p_[i_] == ']') {
      ++i_;
      return JsonValue::array(std::move(items));
    }
    for (;;) {
      skip_ws();
      items.push_back(parse_value(depth));
      skip_ws();
      if (i_ < n_ && p_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < n_ && p_[i_] == ']') {
        ++i_;
        return JsonValue::array(std::move(items));
      }
      fail("unexpected " + describe_here() + ", expected ',' or ']'");
    }
  }

  JsonValue parse_number() {
    size_t start = i_;
    auto digit = [&](size_t k) { return k < n_ && p_[k] >= '0' && p_[k] <= '9'; };
    if (p_[i_] == '-') ++i_;
    if (!digit(i_)) fail("invalid number");
    // Decimal exponent of the leading significant digit, to tell underflow
    // (-> 0) from overflow (-> error) when from_chars reports out of range.
    int64_t magnitude = 0;
    bool seen_nonzero = false;
    if (p_[i_] == '0') {
      ++i_;
      if (digit(i_)) fail("leading zeros are not allowed in numbers");
    } else {
      while (digit(i_)) {
        ++i_;
        ++magnitude;
      }
      seen_nonzero = true;
    }
    if (i_ < n_ && p_[i_] == '.') {
      ++i_;
      if (!digit(i_)) fail("expected a digit after the decimal point");
      while (digit(i_)) {
        if (!seen_nonzero) {
          if (p_[i_] == '0') --magnitude;
          else seen_nonzero = true;
        }
        ++i_;
      }
    }
    int64_t exp10 = 0;
    if (i_ < n_ && (p_[i_] == 'e' || p_[i_] == 'E')) {
      ++i_;
      bool neg = false;
      if (i_ < n_ && (p_[i_] == '+' || p_[i_] == '-')) neg = p_[i_++] == '-';
      if (!digit(i_)) fail("expected a digit in the exponent");
      while (digit(i_)) {
        if (exp10 < 100000) exp10 = exp10 * 10 + (p_[i_] - '0');
        ++i_;
      }
      if (neg) exp10 = -exp10;
    }
    double d = 0;
    const char* b = reinterpret_cast<const char*>(p_ + start);
    const char* e = reinterpret_cast<const char*>(p_ + i_);
    auto res = std::from_chars(b, e, d, std::chars_format::general);
    if (res.ec == std::errc::result_out_of_range) {
      if (!seen_nonzero || magnitude + exp10 <= 0) {
        d = (p_[start] == '-') ? -0.0 : 0.0;  // underflow
      } else {
        fail_at("number out of range", start);
      }
    } else if (res.ec != std::errc() || res.ptr != e) {
      fail_at("invalid number", start);
    }
    if (!std::isfinite(d)) fail_at("number out of range", start);
    return JsonValue::number(d);
  }

  unsigned hex4() {
    if (n_ - i_ < 4) fail("truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      unsigned char c = p_[i_ + k];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else fail_at("invalid hex digit in \\u escape", i_ + k);
    }
    i_ += 4;
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Validates one UTF-8 sequence starting at i_ (lead byte >= 0x80) and
  // appends it. Rejects overlong forms, surrogates and code points > U+10FFFF.
  void copy_utf8(std::string& out) {
    size_t at = i_;
    unsigned char c = p_[i_];
    int len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      fail_at("invalid UTF-8", at);
    }
    if (n_ - i_ < static_cast<size_t>(len)) fail_at("invalid UTF-8 (truncated sequence)", at);
    for (int k = 1; k < len; ++k) {
      unsigned char cc = p_[i_ + k];
      if ((cc & 0xC0) != 0x80) fail_at("invalid UTF-8", at);
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
      fail_at("invalid UTF-8 (overlong encoding)", at);
    if (cp >= 0xD800 && cp <= 0xDFFF) fail_at("invalid UTF-8 (encoded surrogate)", at);
    if (cp > 0x10FFFF) fail_at("invalid UTF-8 (code point above U+10FFFF)", at);
    out.append(reinterpret_cast<const char*>(p_ + i_), len);
    i_ += len;
  }

  std::string parse_string() {
    ++i_;  // opening quote
    std::string out;
    for (;;) {
      if (i_ >= n_) fail("unterminated string");
      unsigned char c = p_[i_];
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) fail("control character in string (must be escaped)");
      if (c >= 0x80) {
        copy_utf8(out);
        continue;
      }
      if (c != '\\') {
        out += static_cast<char>(c);
        ++i_;
        continue;
      }
      size_t esc_at = i_;
      ++i_;
      if (i_ >= n_) fail("unterminated string");
      char e = static_cast<char>(p_[i_++]);
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail_at("unpaired low surrogate in \\u escape", esc_at);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (n_ - i_ < 2 || p_[i_] != '\\' || p_[i_ + 1] != 'u')
              fail_at("unpaired high surrogate in \\u escape", esc_at);
            i_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail_at("unpaired high surrogate in \\u escape", esc_at);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: fail_at("invalid escape sequence", esc_at);
      }
    }
  }

  const unsigned char* p_;
  size_t n_;
  size_t i_ = 0;
  const std::string& origin_;
};

}  // namespace

JsonValue parse_json(const char* data, size_t size, const std::string& origin, size_t max_size) {
  if (size > max_size)
    throw Error(ErrorCode::ModelFormat, origin + ": invalid JSON: document of " +
                                            std::to_string(size) + " bytes exceeds the limit of " +
                                            std::to_string(max_size) + " bytes at byte 0");
  return Parser(data, size, origin).parse_document();
}

JsonValue parse_json(const std::string& text, const std::string& origin, size_t max_size) {
  return parse_json(text.data(), text.size(), origin, max_size);
}

// ---------------------------------------------------------------- serializer

std::string json_quote(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  out += '"';
  return out;
}

static void append_number(std::string& out, double d) {
  if (!std::isfinite(d)) throw Error(ErrorCode::Internal, "cannot write a non-finite number as JSON");
  char buf[64];
  // Integral values print as integers (3000000000, not 3e+09); everything else
  // in the shortest form that reads back to the same double.
  auto res = (std::floor(d) == d && std::fabs(d) < 1e17)
                 ? std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(d))
                 : std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, res.ptr);
}

static void write_value(std::string& out, const JsonValue& v) {
  switch (v.type()) {
    case JsonValue::Type::Null: out += "null"; break;
    case JsonValue::Type::Bool: out += v.as_bool() ? "true" : "false"; break;
    case JsonValue::Type::Number: append_number(out, v.as_number()); break;
    case JsonValue::Type::String: out += json_quote(v.as_string()); break;
    case JsonValue::Type::Array: {
      out += '[';
      bool first = true;
      for (const auto& x : v.items()) {
        if (!first) out += ',';
        first = false;
        write_value(out, x);
      }
      out += ']';
      break;
    }
    case JsonValue::Type::Object: {
      out += '{';
      bool first = true;
      for (const auto& m : v.members()) {
        if (!first) out += ',';
        first = false;
        out += json_quote(m.first);
        out += ':';
        write_value(out, m.second);
      }
      out += '}';
      break;
    }
  }
}

std::string to_json(const JsonValue& v) {
  std::string out;
  write_value(out, v);
  return out;
}

JsonValue json_float(float f) {
  if (!std::isfinite(f)) throw Error(ErrorCode::Internal, "cannot write a non-finite number as JSON");
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, f);  // shortest text for the float
  double d = 0;
  std::from_chars(buf, res.ptr, d);
  return JsonValue::number(d);
}

std::string json_preview(const JsonValue& v) {
  std::string s;
  try {
    s = to_json(v);
  } catch (const Error&) {
    s = "(unprintable)";
  }
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// ---------------------------------------------------------------- accessors

const JsonValue& get_field(const JsonValue& obj, const std::string& key, const std::string& path) {
  if (!obj.is_object())
    throw Error(ErrorCode::ModelFormat,
                "Expected an object for " + path + " but received " + json_preview(obj));
  const JsonValue* v = obj.find(key);
  if (!v) throw Error(ErrorCode::ModelFormat, "Missing required field " + path + "." + key);
  return *v;
}

static std::string int_range_phrase(int64_t min, int64_t max) {
  // Wording for a value below the range or not an integer; values above the
  // range get the explicit "between" wording from check_int.
  if (min == 1) return "a positive integer";
  if (min == 0) return "a non-negative integer";
  (void)max;
  return "an integer between " + std::to_string(min) + " and " + std::to_string(max);
}

static int64_t check_int(const JsonValue& v, const std::string& name, int64_t min, int64_t max) {
  if (v.is_number()) {
    double d = v.as_number();
    if (std::floor(d) == d && d >= -9.0e15 && d <= 9.0e15) {
      int64_t i = static_cast<int64_t>(d);
      if (i >= min && i <= max) return i;
      if (i > max)
        throw Error(ErrorCode::ModelFormat, "Expected an integer between " + std::to_string(min) +
                                                " and " + std::to_string(max) + " for " + name +
                                                " but received " + json_preview(v));
    }
  }
  throw Error(ErrorCode::ModelFormat, "Expected " + int_range_phrase(min, max) + " for " + name +
                                          " but received " + json_preview(v));
}

int64_t get_int(const JsonValue& obj, const std::string& key, const std::string& path,
                int64_t min, int64_t max) {
  return check_int(get_field(obj, key, path), path + "." + key, min, max);
}

static std::string num_str(double d) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, res.ptr);
}

double get_float(const JsonValue& obj, const std::string& key, const std::string& path,
                 double min, double max, bool min_exclusive) {
  const JsonValue& v = get_field(obj, key, path);
  if (v.is_number()) {
    double d = v.as_number();
    bool lo_ok = min_exclusive ? d > min : d >= min;
    if (lo_ok && d <= max) return d;
  }
  std::string phrase;
  // Bounds at float range or beyond are "unbounded" for the wording.
  const double big = std::numeric_limits<float>::max();
  if (min == 0 && min_exclusive && max >= big) phrase = "a positive number";
  else if (min == 0 && max >= big) phrase = "a non-negative number";
  else if (min <= -big && max >= big) phrase = "a number";
  else
    phrase = "a number " + std::string(min_exclusive ? "greater than " : "between ") + num_str(min) +
             (min_exclusive ? " and at most " : " and ") + num_str(max);
  throw Error(ErrorCode::ModelFormat,
              "Expected " + phrase + " for " + path + "." + key + " but received " + json_preview(v));
}

std::string get_string(const JsonValue& obj, const std::string& key, const std::string& path) {
  const JsonValue& v = get_field(obj, key, path);
  if (!v.is_string())
    throw Error(ErrorCode::ModelFormat, "Expected a string for " + path + "." + key +
                                            " but received " + json_preview(v));
  return v.as_string();
}

bool get_bool(const JsonValue& obj, const std::string& key, const std::string& path) {
  const JsonValue& v = get_field(obj, key, path);
  if (!v.is_bool())
    throw Error(ErrorCode::ModelFormat, "Expected a boolean for " + path + "." + key +
                                            " but received " + json_preview(v));
  return v.as_bool();
}

std::vector<int64_t> get_int_array(const JsonValue& obj, const std::string& key,
                                   const std::string& path, size_t count, int64_t min,
                                   int64_t max) {
  const JsonValue& v = get_field(obj, key, path);
  const std::string name = path + "." + key;
  if (!v.is_array() || v.items().size() != count)
    throw Error(ErrorCode::ModelFormat, "Expected an array of " + std::to_string(count) + " " +
                                            (min == 1 ? "positive " : "") + "integers for " + name +
                                            " but received " + json_preview(v));
  std::vector<int64_t> out;
  for (size_t k = 0; k < count; ++k)
    out.push_back(check_int(v.items()[k], name + "[" + std::to_string(k) + "]", min, max));
  return out;
}

}  // namespace s3d
