// Small strict JSON (RFC 8259) parser and serializer. Used for the
// safetensors header and the model config, both of which come from files we
// do not control, so the parser rejects anything questionable (trailing
// garbage, invalid UTF-8, raw control characters, lone surrogates, duplicate
// keys, excessive nesting) instead of guessing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace s3d {

class JsonValue {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };
  using Member = std::pair<std::string, JsonValue>;

  JsonValue() = default;
  static JsonValue null() { return JsonValue(); }
  static JsonValue boolean(bool b);
  static JsonValue number(double d);
  static JsonValue string(std::string s);
  static JsonValue array(std::vector<JsonValue> items = {});
  static JsonValue object(std::vector<Member> members = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }
  const char* type_name() const;  // "null", "boolean", "number", ...

  // Unchecked-type accessors: they throw Error(Internal) on a type mismatch,
  // so validate the type first when the input is untrusted.
  bool as_bool() const;
  double as_number() const;
  const std::string& as_string() const;
  const std::vector<JsonValue>& items() const;    // array
  const std::vector<Member>& members() const;     // object, in document order

  // Object lookup; nullptr when absent (or when this is not an object).
  const JsonValue* find(const std::string& key) const;

  // Builders.
  void push_back(JsonValue v);                       // array
  void set(const std::string& key, JsonValue v);     // object: replace or append

 private:
  Type type_ = Type::Null;
  bool bool_ = false;
  double num_ = 0;
  std::string str_;
  std::vector<JsonValue> items_;
  std::vector<Member> members_;
};

constexpr size_t kJsonDefaultMaxSize = size_t(100) << 20;  // 100 MB
constexpr int kJsonMaxDepth = 64;

// Parses a complete document. Errors throw
// Error(ModelFormat, "<origin>: invalid JSON: <reason> at byte N").
JsonValue parse_json(const std::string& text, const std::string& origin = "JSON",
                     size_t max_size = kJsonDefaultMaxSize);
JsonValue parse_json(const char* data, size_t size, const std::string& origin = "JSON",
                     size_t max_size = kJsonDefaultMaxSize);

// Compact serialisation (no whitespace). Numbers use the shortest text that
// reads back to the same double; integers print without a fraction.
// Non-finite numbers throw Error(Internal): JSON cannot represent them.
std::string to_json(const JsonValue& v);
std::string json_quote(const std::string& s);  // "..." with escapes

// A JSON number holding the float's shortest decimal text (0.2f -> 0.2 rather
// than 0.20000000298023224), so float fields serialise readably and round-trip.
JsonValue json_float(float f);

// Short rendering of a value for error messages (long values are truncated).
std::string json_preview(const JsonValue& v);

// Field accessors for validating config-like objects. `path` names the
// object ("config", "config.audio"); messages name "path.key", e.g.
// "Expected a positive integer for config.n_coarse but received -3".
// All throw Error(ModelFormat, ...). A missing key reports
// "Missing required field path.key".
const JsonValue& get_field(const JsonValue& obj, const std::string& key, const std::string& path);
int64_t get_int(const JsonValue& obj, const std::string& key, const std::string& path,
                int64_t min, int64_t max);
double get_float(const JsonValue& obj, const std::string& key, const std::string& path,
                 double min, double max, bool min_exclusive = false);
std::string get_string(const JsonValue& obj, const std::string& key, const std::string& path);
bool get_bool(const JsonValue& obj, const std::string& key, const std::string& path);
std::vector<int64_t> get_int_array(const JsonValue& obj, const std::string& key,
                                   const std::string& path, size_t count, int64_t min,
                                   int64_t max);

}  // namespace s3d
