// Tests for cpp/core (json, half, safetensors, model_config, cpu_features) and
// cpp/model/weights. Build and run from the repository root:
//   mkdir -p build && g++ -std=c++17 -O2 -Wall -Wextra -Icpp tests/native/test_core.cc cpp/core/*.cc cpp/model/weights.cc -o build/test_core -pthread && build/test_core
// Also cross-checks against tests/native/safetensors_fixture.py when a python
// with torch is available (S3D_TEST_PYTHON, default /usr/bin/python3);
// otherwise that part is reported as SKIPPED.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/half.h"
#include "core/json.h"
#include "core/model_config.h"
#include "core/safetensors.h"
#include "model/weights.h"

using namespace s3d;

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    ++g_checks;                                                                  \
    if (!(cond)) {                                                               \
      ++g_failures;                                                              \
      std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
    }                                                                            \
  } while (0)

#define CHECK_EQ(a, b)                                                           \
  do {                                                                           \
    ++g_checks;                                                                  \
    auto va_ = (a);                                                              \
    auto vb_ = (b);                                                              \
    if (!(va_ == vb_)) {                                                         \
      ++g_failures;                                                              \
      std::fprintf(stderr, "FAIL %s:%d: %s == %s\n", __FILE__, __LINE__, #a, #b); \
    }                                                                            \
  } while (0)

// Expects fn to throw s3d::Error with `code` and a message containing every
// string in `parts`.
static void expect_error(int line, const std::function<void()>& fn,
                         const std::vector<std::string>& parts,
                         ErrorCode code = ErrorCode::ModelFormat) {
  ++g_checks;
  try {
    fn();
  } catch (const Error& e) {
    std::string msg = e.what();
    bool ok = e.code() == code;
    for (const auto& p : parts) ok = ok && msg.find(p) != std::string::npos;
    if (!ok) {
      ++g_failures;
      std::fprintf(stderr, "FAIL line %d: error code %s, message:\n  %s\n  expected to contain:",
                   line, error_code_name(e.code()), msg.c_str());
      for (const auto& p : parts) std::fprintf(stderr, " [%s]", p.c_str());
      std::fprintf(stderr, "\n");
    }
    return;
  } catch (const std::exception& e) {
    ++g_failures;
    std::fprintf(stderr, "FAIL line %d: non-s3d exception: %s\n", line, e.what());
    return;
  }
  ++g_failures;
  std::fprintf(stderr, "FAIL line %d: no exception (expected [%s])\n", line,
               parts.empty() ? "" : parts[0].c_str());
}
#define EXPECT_ERROR(fn, ...) expect_error(__LINE__, fn, __VA_ARGS__)

static bool same_bits(float a, float b) { return float_bits(a) == float_bits(b); }

// ------------------------------------------------------------------ JSON

static void test_json() {
  JsonValue v = parse_json(
      " {\"b\":[true,false,null],\"a\":1,\"c\":\"x\\u00e9\\ud83d\\ude00\\n\\/\","
      "\"d\":-1.5e3,\"e\":{},\"f\":[],\"g\":0.1,\"h\":-0,\"i\":1E-400,\"j\":\"\xc3\xa9\xf0\x9f\x98\x80\"} \r\n\t");
  CHECK(v.is_object());
  CHECK_EQ(v.members().size(), size_t(10));
  CHECK_EQ(v.members()[0].first, std::string("b"));  // insertion order kept
  CHECK_EQ(v.members()[1].first, std::string("a"));
  CHECK_EQ(v.find("a")->as_number(), 1.0);
  CHECK(v.find("b")->items()[0].as_bool() == true);
  CHECK(v.find("b")->items()[2].is_null());
  CHECK_EQ(v.find("c")->as_string(), std::string("x\xc3\xa9\xf0\x9f\x98\x80\n/"));
  CHECK_EQ(v.find("j")->as_string(), std::string("\xc3\xa9\xf0\x9f\x98\x80"));
  CHECK_EQ(v.find("d")->as_number(), -1500.0);
  CHECK_EQ(v.find("g")->as_number(), 0.1);
  CHECK(std::signbit(v.find("h")->as_number()));
  CHECK_EQ(v.find("i")->as_number(), 0.0);
  CHECK(v.find("zz") == nullptr);
  CHECK_EQ(parse_json("1.7976931348623157e308").as_number(), 1.7976931348623157e308);
  CHECK_EQ(parse_json("\"\\u0000\"").as_string(), std::string(1, '\0'));
  CHECK_EQ(parse_json("123456789012345").as_number(), 123456789012345.0);
  CHECK_EQ(parse_json("0.000001e6").as_number(), 1.0);

  // Depth: 64 nested arrays parse, 65 do not.
  CHECK(parse_json(std::string(64, '[') + std::string(64, ']')).is_array());
  EXPECT_ERROR([] { parse_json(std::string(65, '[') + std::string(65, ']')); }, {"nesting deeper than 64", "at byte 64"});

  struct Bad {
    std::string text;
    std::string why;
  };
  const std::vector<Bad> bad = {
      {"", "unexpected end of input, expected a value at byte 0"},
      {"   ", "at byte 3"},
      {"{\"a\":1,}", "expected a string key at byte 7"},
      {"[1,2", "expected ',' or ']' at byte 4"},
      {"[1 2]", "at byte 3"},
      {"01", "leading zeros"},
      {"1.", "decimal point"},
      {".5", "expected a value"},
      {"+1", "expected a value"},
      {"-", "invalid number"},
      {"1e", "exponent"},
      {"1e400", "number out of range at byte 0"},
      {"-1e400", "number out of range"},
      {"NaN", "expected a value"},
      {"Infinity", "expected a value"},
      {"tru", "invalid literal"},
      {"nul", "invalid literal"},
      {"{\"a\":1} x", "unexpected trailing characters at byte 8"},
      {"{\"a\":1}{}", "trailing"},
      {"\"abc", "unterminated string"},
      {"\"a\x01\"", "control character in string (must be escaped) at byte 2"},
      {"\"a\tb\"", "control character"},
      {"\"\\x\"", "invalid escape sequence at byte 1"},
      {"\"\\u12G4\"", "invalid hex digit"},
      {"\"\\u12\"", "truncated \\u escape"},
      {"\"\\ud800\"", "unpaired high surrogate in \\u escape at byte 1"},
      {"\"\\ud800\\u0041\"", "unpaired high surrogate"},
      {"\"\\udc00\"", "unpaired low surrogate"},
      {"\"\xc0\x80\"", "invalid UTF-8 at byte 1"},           // overlong NUL
      {"\"\xe0\x80\xaf\"", "overlong"},                       // overlong '/'
      {"\"\xed\xa0\x80\"", "encoded surrogate"},
      {"\"\xf4\x90\x80\x80\"", "above U+10FFFF"},
      {"\"\xff\"", "invalid UTF-8"},
      {"\"\xc3\"", "invalid UTF-8"},                          // truncated before quote
      {"\"\xc3", "truncated"},
      {"\"\x80\"", "invalid UTF-8"},                          // lone continuation
      {"\xef\xbb\xbf{}", "expected a value at byte 0"},       // BOM
      {"{1:2}", "expected a string key"},
      {"{\"a\" 1}", "expected ':'"},
      {"{\"a\":1,\"a\":2}", "duplicate key \"a\" at byte 7"},
      {"'a'", "expected a value"},
      {"[1,]", "expected a value"},
  };
  for (const auto& b : bad) {
    EXPECT_ERROR([&] { parse_json(b.text, "t.json"); }, {"t.json: invalid JSON: ", b.why});
  }
  // Duplicate keys in a large object (hash path).
  {
    std::string big = "{";
    for (int i = 0; i < 40; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    CHECK(parse_json(big + "\"z\":0}").members().size() == 41);
    EXPECT_ERROR([&] { parse_json(big + "\"k3\":0}"); }, {"duplicate key \"k3\""});
  }
  EXPECT_ERROR([] { parse_json("[1, 2, 3]", "x", 4); }, {"exceeds the limit of 4 bytes"});

  // Serializer.
  CHECK_EQ(to_json(parse_json(" { \"b\" : [ 1 , 2.5 , -0.1, 1e21, 64 ] , \"a\" : null, \"t\":true } ")),
           std::string("{\"b\":[1,2.5,-0.1,1e+21,64],\"a\":null,\"t\":true}"));
  CHECK_EQ(json_quote(std::string("a\"\\\n\x01\x7f\xc3\xa9", 8)), std::string("\"a\\\"\\\\\\n\\u0001\\u007f\xc3\xa9\""));
  {
    std::string s = "\x01\x1f\"\\\b\f\n\r\t/\xf0\x9f\x98\x80";
    CHECK_EQ(parse_json(json_quote(s)).as_string(), s);
  }
  CHECK_EQ(to_json(json_float(0.2f)), std::string("0.2"));
  CHECK_EQ(static_cast<float>(parse_json(to_json(json_float(4.2647f))).as_number()), 4.2647f);
  CHECK_EQ(to_json(json_float(1e-5f)), std::string("1e-05"));
  EXPECT_ERROR([] { to_json(JsonValue::number(NAN)); }, {"non-finite"}, ErrorCode::Internal);

  // Accessors.
  JsonValue o = parse_json("{\"n\":-3,\"f\":1.5,\"s\":\"x\",\"big\":3000000000,\"arr\":[1,0,3],\"frac\":2.5}");
  CHECK_EQ(get_int(o, "n", "c", -10, 10), int64_t(-3));
  EXPECT_ERROR([&] { get_int(o, "n", "config", 1, int64_t(1) << 40); },
               {"Expected a positive integer for config.n but received -3"});
  EXPECT_ERROR([&] { get_int(o, "frac", "config", 0, int64_t(1) << 40); },
               {"Expected a non-negative integer for config.frac but received 2.5"});
  EXPECT_ERROR([&] { get_int(o, "big", "config", 1, 100); },
               {"Expected an integer between 1 and 100 for config.big but received 3000000000"});
  EXPECT_ERROR([&] { get_int(o, "s", "config", 1, 1 << 30); },
               {"Expected a positive integer for config.s but received \"x\""});
  EXPECT_ERROR([&] { get_int(o, "nope", "config", 1, 2); }, {"Missing required field config.nope"});
  EXPECT_ERROR([&] { get_float(o, "n", "config", 0, 1e300, true); },
               {"Expected a positive number for config.n but received -3"});
  EXPECT_ERROR([&] { get_string(o, "n", "config"); }, {"Expected a string for config.n but received -3"});
  EXPECT_ERROR([&] { get_int_array(o, "arr", "config", 3, 1, 1 << 30); },
               {"Expected a positive integer for config.arr[1] but received 0"});
  EXPECT_ERROR([&] { get_int_array(o, "arr", "config", 4, 1, 1 << 30); },
               {"Expected an array of 4 positive integers for config.arr but received [1,0,3]"});
  CHECK_EQ(get_float(o, "f", "c", 0, 2), 1.5);
  CHECK_EQ(get_string(o, "s", "c"), std::string("x"));
}

// ------------------------------------------------------------------ half

static void test_half() {
  struct P {
    uint16_t h;
    float f;
  };
  const P known[] = {
      {0x0000, 0.f},         {0x3C00, 1.f},          {0xC000, -2.f},
      {0x7BFF, 65504.f},     {0x0400, 6.103515625e-05f}, {0x0001, 5.9604644775390625e-08f},
      {0x03FF, 6.097555160522461e-05f}, {0x3555, 0.333251953125f}, {0x3800, 0.5f},
      {0x5640, 100.f},       {0xFBFF, -65504.f},     {0x8001, -5.9604644775390625e-08f},
  };
  for (const auto& p : known) {
    CHECK(same_bits(fp16_to_fp32(p.h), p.f));
    CHECK_EQ(fp32_to_fp16(p.f), p.h);
  }
  CHECK(same_bits(fp16_to_fp32(0x8000), -0.f));
  CHECK_EQ(fp32_to_fp16(-0.f), uint16_t(0x8000));
  CHECK(std::isinf(fp16_to_fp32(0x7C00)) && fp16_to_fp32(0x7C00) > 0);
  CHECK(std::isinf(fp16_to_fp32(0xFC00)) && fp16_to_fp32(0xFC00) < 0);
  CHECK(std::isnan(fp16_to_fp32(0x7E00)));
  CHECK(std::isnan(fp16_to_fp32(0x7C01)));  // signalling NaN stays NaN
  CHECK_EQ(fp32_to_fp16(INFINITY), uint16_t(0x7C00));
  CHECK_EQ(fp32_to_fp16(-INFINITY), uint16_t(0xFC00));
  CHECK_EQ(fp32_to_fp16(NAN) & 0x7E00, 0x7E00);
  CHECK_EQ(fp32_to_fp16(bits_float(0x7F800001u)) & 0x7FFF, 0x7E00);  // payload lost -> still NaN
  // Rounding.
  CHECK_EQ(fp32_to_fp16(65519.f), uint16_t(0x7BFF));
  CHECK_EQ(fp32_to_fp16(65520.f), uint16_t(0x7C00));              // tie -> even -> inf
  CHECK_EQ(fp32_to_fp16(1e10f), uint16_t(0x7C00));
  CHECK_EQ(fp32_to_fp16(1.f + std::ldexp(1.f, -11)), uint16_t(0x3C00));   // tie -> even (down)
  CHECK_EQ(fp32_to_fp16(1.f + 3 * std::ldexp(1.f, -11)), uint16_t(0x3C02));  // tie -> even (up)
  CHECK_EQ(fp32_to_fp16(1.f + std::ldexp(1.f, -11) + std::ldexp(1.f, -20)), uint16_t(0x3C01));
  CHECK_EQ(fp32_to_fp16(std::ldexp(1.f, -25)), uint16_t(0x0000));  // tie -> 0
  CHECK_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.f, -25), 1.f)), uint16_t(0x0001));
  CHECK_EQ(fp32_to_fp16(3 * std::ldexp(1.f, -25)), uint16_t(0x0002));  // 1.5 units -> 2
  CHECK_EQ(fp32_to_fp16(5 * std::ldexp(1.f, -25)), uint16_t(0x0002));  // 2.5 units -> 2
  CHECK_EQ(fp32_to_fp16(std::ldexp(1.f, -14) - std::ldexp(1.f, -25)), uint16_t(0x0400));  // carry
  CHECK_EQ(fp32_to_fp16(1e-30f), uint16_t(0x0000));
  CHECK_EQ(fp32_to_fp16(-1e-30f), uint16_t(0x8000));
  CHECK_EQ(fp32_to_fp16(1e-40f), uint16_t(0x0000));  // fp32 subnormal
  // Exhaustive: every non-NaN half survives fp16 -> fp32 -> fp16, and the
  // fp32 value is monotonic in the bit pattern.
  int bad_roundtrip = 0, bad_order = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;
    if (fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))) != h) ++bad_roundtrip;
    if (h > 0 && h < 0x7C00 && !(fp16_to_fp32(h) > fp16_to_fp32(h - 1))) ++bad_order;
  }
  CHECK_EQ(bad_roundtrip, 0);
  CHECK_EQ(bad_order, 0);

  CHECK(same_bits(bf16_to_fp32(0x3F80), 1.f));
  CHECK(same_bits(bf16_to_fp32(0xC0490000u >> 16), bits_float(0xC0490000u)));  // -3.140625
  CHECK(std::isinf(bf16_to_fp32(0x7F80)));
  CHECK(std::isnan(bf16_to_fp32(0x7FC0)));
  CHECK(same_bits(bf16_to_fp32(0x0001), bits_float(0x00010000u)));  // subnormal
  CHECK_EQ(fp32_to_bf16(1.f), uint16_t(0x3F80));
  CHECK_EQ(fp32_to_bf16(1.f + std::ldexp(1.f, -8)), uint16_t(0x3F80));      // tie -> even
  CHECK_EQ(fp32_to_bf16(1.f + 3 * std::ldexp(1.f, -8)), uint16_t(0x3F82));  // tie -> even
  CHECK_EQ(fp32_to_bf16(bits_float(0x7F7FFFFFu)), uint16_t(0x7F80));        // rounds to inf
  CHECK_EQ(fp32_to_bf16(NAN) & 0x7FC0, 0x7FC0);
}

// ------------------------------------------------------------------ safetensors

static std::vector<uint8_t> make_st(const std::string& header, size_t data_bytes,
                                    int64_t header_len_override = -1) {
  std::vector<uint8_t> out(8);
  uint64_t n = header_len_override >= 0 ? uint64_t(header_len_override) : header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

static SafetensorsFile parse_bytes(const std::vector<uint8_t>& b) {
  return parse_safetensors(b.data(), b.size(), "model.safetensors");
}

static std::string tmp_dir() {
  const char* t = std::getenv("TMPDIR");
  std::string dir = std::string(t && *t ? t : "/tmp") + "/s3d_test_core_" + std::to_string(getpid());
  std::string cmd = "mkdir -p '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "cannot create %s\n", dir.c_str());
  return dir;
}

static Tensor make_tensor(Shape shape, float scale, float offset) {
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data[i] = static_cast<float>(i) * scale + offset;
  return t;
}

static void test_safetensors(const std::string& dir) {
  // Round trip.
  TensorMap m;
  m["x"] = make_tensor({3, 4}, 0.5f, -1.f);
  m["s"] = make_tensor({}, 0.f, 3.25f);
  m["e"] = Tensor::empty({2, 0});
  m["big.weight"] = make_tensor({7, 11, 13}, 1e-3f, -0.5f);
  m["specials"] = Tensor::empty({4});
  m["specials"].data[0] = -0.f;
  m["specials"].data[1] = INFINITY;
  m["specials"].data[2] = 1e-40f;
  m["specials"].data[3] = -3.4e38f;
  std::map<std::string, std::string> md = {{"origin", "c++"}, {"unicode", "\xc3\xa9\xf0\x9f\x98\x80"}};
  const std::string path = dir + "/rt.safetensors";
  write_safetensors(path, m, md);
  SafetensorsFile f = read_safetensors(path);
  CHECK_EQ(f.metadata, md);
  CHECK_EQ(f.tensors.size(), m.size());
  for (const auto& kv : m) {
    auto it = f.tensors.find(kv.first);
    CHECK(it != f.tensors.end());
    if (it == f.tensors.end()) continue;
    CHECK(it->second.shape == kv.second.shape);
    CHECK_EQ(f.dtypes[kv.first], std::string("F32"));
    CHECK(reinterpret_cast<uintptr_t>(it->second.data) % 64 == 0);
    bool same = true;
    for (int64_t i = 0; i < kv.second.numel(); ++i)
      same = same && same_bits(it->second.data[i], kv.second.data[i]);
    CHECK(same);
  }
  {  // header is padded to 8 bytes
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    uint8_t len[8] = {};
    CHECK(fp && std::fread(len, 1, 8, fp) == 8);
    if (fp) std::fclose(fp);
    CHECK(len[0] % 8 == 0);
  }

  EXPECT_ERROR([&] { read_safetensors(dir + "/does-not-exist.safetensors"); },
               {"Cannot open model file " + dir + "/does-not-exist.safetensors: No such file or directory"});
  EXPECT_ERROR([&] { read_safetensors(dir); }, {"Cannot read model file"});

  // Corruption cases, each must name the file, the tensor and the reason.
  const std::string ok_entry = "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}";
  CHECK(parse_bytes(make_st("{\"t\":" + ok_entry + "}", 24)).tensors.at("t").numel() == 6);
  CHECK(parse_bytes(make_st("{}", 0)).tensors.empty());
  CHECK(parse_bytes(make_st("{\"t\":" + ok_entry + "}  \n", 24)).tensors.size() == 1);

  EXPECT_ERROR([] { std::vector<uint8_t> b(5, 0); parse_bytes(b); },
               {"model.safetensors: file is 5 bytes, too small for the 8-byte"});
  EXPECT_ERROR([] { parse_bytes(make_st("{}", 0, int64_t(200) << 20)); },
               {"model.safetensors: safetensors header length 209715200 is larger than the limit"});
  EXPECT_ERROR([] { parse_bytes(make_st("{}", 0, 3)); },
               {"safetensors header length 3 runs past the end of the file (10 bytes)"});
  EXPECT_ERROR([] { parse_bytes(make_st("[1,2]", 0)); },
               {"safetensors header must be a JSON object but is a array"});
  EXPECT_ERROR([] { parse_bytes(make_st("{\"t\":", 0)); },
               {"model.safetensors: safetensors header: invalid JSON", "at byte 5"});
  EXPECT_ERROR([] { parse_bytes(make_st("{\"__metadata__\":[]}", 0)); },
               {"__metadata__ must be an object of strings but is a array"});
  EXPECT_ERROR([] { parse_bytes(make_st("{\"__metadata__\":{\"a\":\"x\",\"k\":1}}", 0)); },
               {"__metadata__ value for key \"k\" must be a string but is a number"});
  EXPECT_ERROR([] { parse_bytes(make_st("{\"enc.w\":5}", 0)); },
               {"model.safetensors: tensor \"enc.w\": entry must be an object but is a number"});
  EXPECT_ERROR([] { parse_bytes(make_st("{\"enc.w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4)); },
               {"tensor \"enc.w\": missing \"dtype\""});
  EXPECT_ERROR([] { parse_bytes(make_st("{\"enc.w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8)); },
               {"tensor \"enc.w\": unsupported dtype \"I64\" (supported: F32, F16, BF16)"});
  EXPECT_ERROR([] { parse_bytes(make_st("{\"enc.w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,8]}}", 8)); },
               {"tensor \"enc.w\": dtype must be a string"});
  for (const char* shape : {"\"x\"", "[-1]", "[1.5]", "[\"2\"]", "[[1]]", "{}", "[1e300]"}) {
    EXPECT_ERROR([&] {
      parse_bytes(make_st(std::string("{\"enc.w\":{\"dtype\":\"F32\",\"shape\":") + shape +
                              ",\"data_offsets\":[0,4]}}", 4));
    }, {"tensor \"enc.w\": shape must be an array of non-negative integers but received"});
  }
  EXPECT_ERROR([] { parse_bytes(make_st("{\"enc.w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4)); },
               {"tensor \"enc.w\": missing \"shape\""});
  for (const char* offs : {"[0]", "[0,4,8]", "[\"0\",4]", "[-4,0]", "[0,4.5]", "4"}) {
    EXPECT_ERROR([&] {
      parse_bytes(make_st(std::string("{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":") +
                              offs + "}}", 8));
    }, {"tensor \"enc.w\": data_offsets must be [begin, end] with non-negative integers"});
  }
  EXPECT_ERROR([] { parse_bytes(make_st("{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4)); },
               {"tensor \"enc.w\": missing \"data_offsets\""});
  EXPECT_ERROR([] { parse_bytes(make_st("{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8)); },
               {"tensor \"enc.w\": data_offsets begin 8 is after end 4"});
  EXPECT_ERROR([] {
    parse_bytes(make_st("{\"encoder.d0.0.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1226,1234]}}", 1000));
  }, {"model.safetensors: tensor \"encoder.d0.0.weight\": data_offsets end 1234 is past the end of the data section (1000 bytes)"});
  EXPECT_ERROR([] { parse_bytes(make_st("{\"enc.w\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24)); },
               {"tensor \"enc.w\": data_offsets cover 24 bytes but shape [2, 3] of F16 needs 12 bytes"});
  EXPECT_ERROR([] {
    parse_bytes(make_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[12,20]}}", 20));
  }, {"tensor \"b\": data_offsets [12, 20] overlap those of tensor \"a\" [0, 16]"});
  EXPECT_ERROR([] {
    parse_bytes(make_st("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16));
  }, {"overlap"});
  // Same range twice overlaps too; empty tensors never overlap.
  EXPECT_ERROR([] {
    parse_bytes(make_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
  }, {"overlap"});
  CHECK(parse_bytes(make_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                            "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]}}", 4)).tensors.size() == 2);
  EXPECT_ERROR([] {
    parse_bytes(make_st("{\"huge\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", 4));
  }, {"tensor \"huge\": element count of shape [4294967296, 4294967296, 4] overflows"});
  EXPECT_ERROR([] {
    parse_bytes(make_st("{\"z\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}", 0));
  }, {"tensor \"z\": element count of shape [4294967296, 4294967296, 0] overflows"});
  CHECK(parse_bytes(make_st("{\"z\":{\"dtype\":\"F32\",\"shape\":[0,4294967296],\"data_offsets\":[0,0]}}", 0))
            .tensors.at("z").numel() == 0);
  // The first problem in header order is the one reported.
  EXPECT_ERROR([] {
    parse_bytes(make_st("{\"first\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                        "\"second\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 8));
  }, {"tensor \"first\": unsupported dtype \"F64\""});

  // Mutation fuzz: random byte flips / truncations of a valid file must give
  // a clean Error(ModelFormat) or a valid parse, never a crash or another
  // exception (run under -fsanitize=address,undefined to make this bite).
  {
    std::vector<uint8_t> base;
    {
      std::FILE* fp = std::fopen(path.c_str(), "rb");
      uint8_t buf[4096];
      size_t got;
      while (fp && (got = std::fread(buf, 1, sizeof buf, fp)) > 0) base.insert(base.end(), buf, buf + got);
      if (fp) std::fclose(fp);
    }
    uint32_t seed = 12345;
    auto rnd = [&] { seed = seed * 1664525u + 1013904223u; return seed >> 8; };
    int other = 0, parsed = 0, rejected = 0;
    size_t header_end = 8 + (base[0] | base[1] << 8);
    for (int iter = 0; iter < 3000; ++iter) {
      std::vector<uint8_t> b = base;
      int flips = 1 + rnd() % 4;
      for (int k = 0; k < flips; ++k) {
        // Mostly hit the header, where the interesting parsing happens.
        size_t pos = (rnd() % 4) ? rnd() % header_end : rnd() % b.size();
        b[pos] = static_cast<uint8_t>(rnd() % 3 == 0 ? rnd() : "0123456789[]{},:\"\\-eE. \x80"[rnd() % 20]);
      }
      if (rnd() % 8 == 0) b.resize(rnd() % b.size());
      try {
        parse_safetensors(b.data(), b.size(), "fuzz");
        ++parsed;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::ModelFormat) ++rejected;
        else ++other;
      } catch (...) {
        ++other;
      }
    }
    CHECK_EQ(other, 0);
    CHECK(rejected > 1000);
    std::printf("safetensors fuzz: %d rejected, %d parsed\n", rejected, parsed);
  }

  // Hand-built mixed-dtype file, little-endian bytes checked against known values.
  {
    std::string h = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[6,10]},"
                    "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[10,14]}}";
    std::vector<uint8_t> b = make_st(h, 14);
    const uint8_t body[14] = {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00,  // 1, -2, 2^-24
                              0x80, 0x3F, 0x49, 0xC0,              // 1, -3.140625
                              0x00, 0x00, 0x20, 0x41};             // 10
    std::memcpy(b.data() + 8 + h.size(), body, 14);
    SafetensorsFile g = parse_bytes(b);
    CHECK_EQ(g.tensors.at("h").data[0], 1.f);
    CHECK_EQ(g.tensors.at("h").data[1], -2.f);
    CHECK_EQ(g.tensors.at("h").data[2], std::ldexp(1.f, -24));
    CHECK_EQ(g.tensors.at("b").data[0], 1.f);
    CHECK_EQ(g.tensors.at("b").data[1], -3.140625f);
    CHECK_EQ(g.tensors.at("f").data[0], 10.f);
    CHECK_EQ(g.dtypes.at("h"), std::string("F16"));
    CHECK_EQ(g.dtypes.at("b"), std::string("BF16"));
  }
}

// ------------------------------------------------------------------ model config

static std::string mutate(const std::string& json, const std::string& key, const JsonValue& v,
                          const std::string& sub = "") {
  JsonValue o = parse_json(json);
  if (sub.empty()) {
    o.set(key, v);
  } else {
    JsonValue a = *o.find(sub);
    a.set(key, v);
    o.set(sub, a);
  }
  return to_json(o);
}

static std::string remove_key(const std::string& json, const std::string& key) {
  JsonValue o = parse_json(json);
  std::vector<JsonValue::Member> kept;
  for (const auto& m : o.members())
    if (m.first != key) kept.push_back(m);
  return to_json(JsonValue::object(kept));
}

static void test_model_config() {
  const ModelConfig def;
  const std::string js = model_config_to_json(def);
  ModelConfig c = parse_model_config(js);
  CHECK_EQ(model_config_to_json(c), js);
  CHECK_EQ(c.name, def.name);
  CHECK_EQ(c.image_size, 256);
  CHECK(c.enc_channels == def.enc_channels);
  CHECK_EQ(c.lrelu_slope, 0.2f);
  CHECK_EQ(c.focal, 4.2647f);
  CHECK_EQ(c.ray_near, 2.25f);
  CHECK_EQ(c.audio.log_floor, 1e-5f);
  CHECK_EQ(c.audio.f_max, 7600.f);
  CHECK_EQ(c.audio.window_frames, 32);
  CHECK(js.find("\"lrelu_slope\":0.2,") != std::string::npos);
  CHECK(c.sr_hole == std::vector<float>({0.31f, 0.53f, 0.69f, 0.86f}));
  CHECK_EQ(c.sr_hole_feather, 0.04f);
  CHECK(js.find("\"sr_hole\":[0.31,0.53,0.69,0.86],\"sr_hole_feather\":0.04,") != std::string::npos);
  CHECK(js.find("sr_hide_below") == std::string::npos);
  {
    // Older files: sr_hide_below = b is the box {0, b, 1, 1} without feather; b = 0 or
    // neither key is no hole; an empty sr_hole is no hole either.
    // (Files of that time had no paste either: it needs a hole.)
    const std::string legacy = remove_key(remove_key(remove_key(js, "sr_hole"), "sr_hole_feather"), "sr_paste_source");
    CHECK(parse_model_config(legacy).sr_hole.empty());
    const std::string b58 = mutate(legacy, "sr_hide_below", JsonValue::number(0.58));
    CHECK(parse_model_config(b58).sr_hole == std::vector<float>({0.f, 0.58f, 1.f, 1.f}));
    CHECK_EQ(parse_model_config(b58).sr_hole_feather, 0.f);
    CHECK(parse_model_config(mutate(legacy, "sr_hide_below", JsonValue::number(0))).sr_hole.empty());
    CHECK(parse_model_config(mutate(mutate(js, "sr_paste_source", JsonValue::boolean(false)), "sr_hole",
                                    JsonValue::array())).sr_hole.empty());
    // sr_hole wins over a stray sr_hide_below.
    CHECK(parse_model_config(mutate(js, "sr_hide_below", JsonValue::number(0.5))).sr_hole == c.sr_hole);
  }
  // SR source gate (the first trained model's): read back, absent = off (older files
  // have a 3-row out_rgb).
  CHECK(!c.sr_source_gate);
  const std::string gated = mutate(mutate(js, "sr_paste_source", JsonValue::boolean(false)), "sr_source_gate",
                                   JsonValue::boolean(true));
  CHECK(parse_model_config(gated).sr_source_gate);
  CHECK(!parse_model_config(remove_key(gated, "sr_source_gate")).sr_source_gate);
  // The unreleased hole-aware gate's key: false (files of the time) is read, true refused.
  CHECK(parse_model_config(mutate(gated, "sr_gate_keep", JsonValue::boolean(false))).sr_source_gate);
  // Paste: written, read back, absent = off.
  CHECK(c.sr_paste_source);
  CHECK(js.find("\"sr_paste_source\":true,") != std::string::npos);
  CHECK(!parse_model_config(remove_key(js, "sr_paste_source")).sr_paste_source);
  // Tri-plane box: written, read back, and absent = the first design (e 0.5, y up: q = 2p).
  CHECK_EQ(c.plane_extent, 0.3166f);
  CHECK(c.plane_y_down);
  CHECK(c.plane_scale()[1] < 0.f && c.plane_scale()[0] > 3.15f && c.plane_scale()[0] < 3.16f);
  {
    const ModelConfig old = parse_model_config(remove_key(remove_key(js, "plane_extent"), "plane_y_down"));
    CHECK_EQ(old.plane_extent, 0.5f);
    CHECK(!old.plane_y_down);
    CHECK(old.plane_scale() == (std::array<float, 3>{2.f, 2.f, 2.f}));
  }
  CHECK(js.find("\"audio\":{\"kind\":\"logmel\",\"sample_rate\":16000,") != std::string::npos);

  // A config as the Python exporter writes it (json.dumps(asdict(cfg)), spaces,
  // different key order, an unknown key, floats as Python prints them).
  const std::string py =
      "{\"name\": \"tiny\", \"image_size\": 64, \"enc_channels\": [8, 16, 16, 12], \"plane_channels\": 4,"
      " \"lrelu_slope\": 0.2, \"slot_dim\": 32, \"slot_iters\": 2, \"slot_mlp\": 64, \"audio_channels\": 32,"
      " \"audio_tokens\": 4, \"audio_code\": 16, \"heads\": 4, \"cm_channels\": 8, \"pe_freqs\": 4,"
      " \"deform_hidden\": [32, 16, 8], \"decoder_hidden\": 16, \"feat_channels\": 8, \"render_size\": 16,"
      " \"n_coarse\": 8, \"n_importance\": 0, \"ray_near\": 2.25, \"ray_far\": 3.3, \"focal\": 4.2647,"
      " \"cam_radius\": 2.7, \"sr_source_channels\": [8, 16], \"sr_mid_channels\": 16, \"sr_out_channels\": 8,"
      " \"future_field\": {\"x\": [1]},"
      " \"audio\": {\"fps\": 25, \"kind\": \"logmel\", \"sample_rate\": 16000, \"n_fft\": 800, \"hop\": 200,"
      " \"n_mels\": 80, \"f_min\": 55.0, \"f_max\": 7600.0, \"log_floor\": 1e-05, \"window_frames\": 16}}";
  ModelConfig t = parse_model_config(py);
  CHECK_EQ(t.name, std::string("tiny"));
  CHECK_EQ(t.image_size, 64);
  CHECK_EQ(t.slot_grid(), 4);
  CHECK_EQ(t.n_importance, 0);
  CHECK_EQ(t.audio.window_frames, 16);
  CHECK_EQ(t.ray_far, 3.3f);
  CHECK(t.deform_hidden == std::vector<int>({32, 16, 8}));
  CHECK(t.sr_hole.empty());         // absent
  CHECK_EQ(t.plane_extent, 0.5f);   // absent
  CHECK(!t.plane_y_down);
  CHECK(!t.sr_source_gate);         // absent

  using J = JsonValue;
  const std::string legacy_js = remove_key(remove_key(remove_key(js, "sr_hole"), "sr_hole_feather"), "sr_paste_source");
  struct Case {
    std::string json;
    std::string msg;
  };
  const std::vector<Case> cases = {
      {mutate(js, "n_coarse", J::number(-3)), "Expected a positive integer for config.n_coarse but received -3"},
      {mutate(js, "n_coarse", J::number(2.5)), "Expected a positive integer for config.n_coarse but received 2.5"},
      {mutate(js, "n_coarse", J::string("48")), "Expected a positive integer for config.n_coarse but received \"48\""},
      {remove_key(js, "heads"), "Missing required field config.heads"},
      {remove_key(js, "audio"), "Missing required field config.audio"},
      {mutate(js, "name", J::number(1)), "Expected a string for config.name but received 1"},
      {mutate(js, "image_size", J::number(100)), "Expected a multiple of 16 for config.image_size but received 100"},
      {mutate(js, "render_size", J::number(32)), "Expected config.render_size to be config.image_size / 4 = 64 but received 32"},
      {mutate(js, "audio_tokens", J::number(4)), "Expected config.audio_tokens * 4 to equal config.audio.window_frames (32)"},
      {mutate(js, "heads", J::number(7)), "Expected config.slot_dim (256) to be divisible by config.heads but received 7"},
      {mutate(js, "enc_channels", J::array({J::number(1), J::number(2), J::number(3)})),
       "Expected an array of 4 positive integers for config.enc_channels"},
      {mutate(js, "enc_channels", J::array({J::number(64), J::number(128), J::number(256), J::number(64)})),
       "Expected config.enc_channels[3] to equal 3 * config.plane_channels = 96 but received 64"},
      {mutate(js, "enc_channels", J::array({J::number(64), J::number(0), J::number(256), J::number(96)})),
       "Expected a positive integer for config.enc_channels[1] but received 0"},
      {mutate(js, "deform_hidden", J::array({J::number(1)})), "Expected an array of 3 positive integers for config.deform_hidden"},
      {mutate(js, "sr_source_channels", J::string("x")), "Expected an array of 2 positive integers for config.sr_source_channels"},
      {mutate(js, "ray_far", J::number(2.0)), "Expected config.ray_far to be greater than config.ray_near (2.25) but received 2"},
      {mutate(js, "ray_near", J::number(0)), "Expected a positive number for config.ray_near but received 0"},
      {mutate(js, "focal", J::number(1e300)), "config.focal"},
      {mutate(js, "lrelu_slope", J::number(1.5)), "Expected a number between 0 and 1 for config.lrelu_slope but received 1.5"},
      {mutate(js, "sr_hole", J::number(0.5)), "Expected [] or [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 for config.sr_hole but received 0.5"},
      {mutate(js, "sr_hole", J::array({J::number(0.5), J::number(0.5), J::number(0.4), J::number(0.9)})), "Expected [] or [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 for config.sr_hole but received [0.5,0.5,0.4,0.9]"},
      {mutate(js, "sr_hole", J::array({J::number(0), J::number(0.5), J::number(1), J::number(1.1)})), "for config.sr_hole but received [0,0.5,1,1.1]"},
      {mutate(js, "sr_hole", J::array({J::number(0), J::number(0.5), J::number(1)})), "for config.sr_hole but received [0,0.5,1]"},
      {mutate(js, "sr_hole", J::array({J::number(0), J::number(0.5), J::number(1), J::string("1")})), "for config.sr_hole but received"},
      {mutate(js, "sr_hole_feather", J::number(1)), "Expected a number in [0, 1) for config.sr_hole_feather but received 1"},
      {mutate(js, "sr_hole_feather", J::number(-0.01)), "Expected a number in [0, 1) for config.sr_hole_feather but received -0.01"},
      {remove_key(js, "sr_hole_feather"), "Expected a number in [0, 1) for config.sr_hole_feather but received nothing"},
      {mutate(js, "plane_extent", J::number(0)), "Expected a number in (0, 100] for config.plane_extent but received 0"},
      {mutate(js, "plane_extent", J::string("1")), "Expected a number in (0, 100] for config.plane_extent but received \"1\""},
      {mutate(js, "plane_y_down", J::number(1)), "Expected true or false for config.plane_y_down but received 1"},
      {mutate(js, "sr_source_gate", J::string("yes")), "Expected true or false for config.sr_source_gate but received \"yes\""},
      {mutate(js, "sr_paste_source", J::number(1)), "Expected true or false for config.sr_paste_source but received 1"},
      {mutate(js, "sr_source_gate", J::boolean(true)), "config.sr_paste_source and config.sr_source_gate are both true"},
      {mutate(js, "sr_hole", J::array()), "config.sr_paste_source is true but config.sr_hole is empty"},
      {mutate(js, "sr_gate_keep", J::boolean(true)), "config.sr_gate_keep (a hole-aware learned gate, never released) is not supported"},
      {mutate(js, "sr_gate_keep", J::number(1)), "config.sr_gate_keep (a hole-aware learned gate, never released) is not supported"},
      {mutate(legacy_js, "sr_hide_below", J::number(1)), "Expected a number in [0, 1) for config.sr_hide_below but received 1"},
      {mutate(legacy_js, "sr_hide_below", J::number(-0.1)), "Expected a number in [0, 1) for config.sr_hide_below but received -0.1"},
      {mutate(legacy_js, "sr_hide_below", J::string("0.5")), "Expected a number in [0, 1) for config.sr_hide_below but received \"0.5\""},
      {mutate(legacy_js, "sr_hide_below", J::null()), "Expected a number in [0, 1) for config.sr_hide_below but received null"},
      {mutate(js, "pe_freqs", J::number(40)), "Expected an integer between 0 and 32 for config.pe_freqs but received 40"},
      {mutate(js, "audio", J::number(1)), "Expected an object for config.audio but received 1"},
      {mutate(js, "kind", J::string("wav2vec2"), "audio"), "Expected \"logmel\" for config.audio.kind but received \"wav2vec2\""},
      {mutate(js, "hop", J::number(0), "audio"), "Expected a positive integer for config.audio.hop but received 0"},
      {mutate(js, "f_max", J::number(9000), "audio"), "config.audio.f_max to be at most the Nyquist frequency 8000"},
      {mutate(js, "f_max", J::number(50), "audio"), "Expected config.audio.f_max to be greater than config.audio.f_min (55)"},
      {mutate(js, "log_floor", J::number(0), "audio"), "Expected a positive number for config.audio.log_floor"},
      {mutate(js, "window_frames", J::number(16), "audio"), "config.audio_tokens * 4 to equal config.audio.window_frames (16)"},
      {"[1]", "Expected a JSON object for config but received a array"},
      {"{", "config: invalid JSON"},
  };
  for (const auto& k : cases) EXPECT_ERROR([&] { parse_model_config(k.json); }, {k.msg});
}

// ------------------------------------------------------------------ weights

static std::map<std::string, std::string> good_metadata() {
  return {{"format", "s3d-nerf"},
          {"format_version", "1"},
          {"config", model_config_to_json(ModelConfig())},
          {"provenance", "{\"git\":\"abc\",\"steps\":10}"}};
}

static void test_weights(const std::string& dir) {
  TensorMap m;
  m["enc.w"] = make_tensor({4, 3, 3, 3}, 0.25f, 0.f);
  m["enc.b"] = make_tensor({4}, 1.f, 0.f);
  m["extra"] = make_tensor({2}, 1.f, 0.f);
  const std::string path = dir + "/model.safetensors";
  write_safetensors(path, m, good_metadata());
  Weights w = Weights::load(path);
  CHECK_EQ(w.config().image_size, 256);
  CHECK_EQ(w.provenance_json(), std::string("{\"git\":\"abc\",\"steps\":10}"));
  JsonValue md = parse_json(w.metadata_json());
  CHECK(md.find("format") && md.find("format")->as_string() == "s3d-nerf");
  CHECK(md.find("config") && parse_model_config(md.find("config")->as_string()).image_size == 256);
  CHECK(w.has("enc.w"));
  CHECK(!w.has("nope"));
  CHECK_EQ(w.dtype("enc.w"), std::string("F32"));
  const Tensor& t = w.get("enc.w", {4, 3, 3, 3});
  CHECK_EQ(t.data[5], 1.25f);
  CHECK_EQ(w.get("enc.b", {-1}).numel(), int64_t(4));
  EXPECT_ERROR([&] { w.get("enc.w", {4, 3, 3}); },
               {path + ": Expected shape [4, 3, 3] for tensor \"enc.w\" but received [4, 3, 3, 3]"});
  EXPECT_ERROR([&] { w.get("enc.w", {4, 3, 3, 1}); }, {"Expected shape [4, 3, 3, 1] for tensor \"enc.w\""});
  EXPECT_ERROR([&] { w.get("dec.w", {2, 2}); }, {path + ": missing tensor \"dec.w\" (expected shape [2, 2])"});
  EXPECT_ERROR([&] { w.check_no_unused(); }, {"unexpected tensor \"extra\" [2]"});
  w.get("extra", {2});
  std::string unused_error;  // every tensor has been read: check_no_unused() must not throw now
  try {
    w.check_no_unused();
  } catch (const std::exception& e) {
    unused_error = e.what();
    std::fprintf(stderr, "check_no_unused() threw after every tensor was read: %s\n", e.what());
  }
  CHECK_EQ(unused_error, std::string());

  auto with = [&](const std::string& key, const char* value) {
    auto md2 = good_metadata();
    if (value) md2[key] = value;
    else md2.erase(key);
    write_safetensors(path, m, md2);
  };
  with("format", "gguf");
  EXPECT_ERROR([&] { Weights::load(path); }, {path + ": not an s3d-nerf model file", "\"gguf\""});
  with("format", nullptr);
  EXPECT_ERROR([&] { Weights::load(path); }, {"not an s3d-nerf model file", "\"format\" is missing"});
  with("format_version", "2");
  EXPECT_ERROR([&] { Weights::load(path); }, {"Unsupported model format version \"2\" (this build reads 1)"});
  with("format_version", nullptr);
  EXPECT_ERROR([&] { Weights::load(path); }, {"\"format_version\" is missing"});
  with("config", nullptr);
  EXPECT_ERROR([&] { Weights::load(path); }, {"\"config\" is missing"});
  with("provenance", nullptr);
  EXPECT_ERROR([&] { Weights::load(path); }, {"\"provenance\" is missing"});
  with("provenance", "{bad");
  EXPECT_ERROR([&] { Weights::load(path); }, {"metadata \"provenance\": invalid JSON"});
  with("config", mutate(model_config_to_json(ModelConfig()), "n_coarse", JsonValue::number(-3)).c_str());
  EXPECT_ERROR([&] { Weights::load(path); },
               {path + ": Expected a positive integer for config.n_coarse but received -3"});
  // No metadata at all.
  write_safetensors(path, m, {});
  EXPECT_ERROR([&] { Weights::load(path); }, {"not an s3d-nerf model file"});
}

// ------------------------------------------------------------------ python cross-check

static const Tensor& at(const SafetensorsFile& f, const char* name) {
  auto it = f.tensors.find(name);
  if (it == f.tensors.end()) {
    std::fprintf(stderr, "python fixture lacks %s\n", name);
    std::exit(1);
  }
  return it->second;
}

static void test_python(const std::string& dir) {
  const char* py_env = std::getenv("S3D_TEST_PYTHON");
  std::string py = py_env ? py_env : "/usr/bin/python3";
  std::string script = __FILE__;
  script = script.substr(0, script.find_last_of('/') + 1) + "safetensors_fixture.py";
  if (script[0] != '/' && access(script.c_str(), R_OK) != 0) script = "tests/native/safetensors_fixture.py";
  std::string probe = "'" + py + "' -c 'import torch, numpy' >/dev/null 2>&1";
  if (access(py.c_str(), X_OK) != 0 || std::system(probe.c_str()) != 0) {
    std::printf("python cross-check: SKIPPED (%s with torch+numpy not available)\n", py.c_str());
    return;
  }
  const std::string file = dir + "/py.safetensors";
  std::fflush(stdout);
  std::string cmd = "'" + py + "' '" + script + "' write '" + file + "'";
  int rc = std::system(cmd.c_str());
  CHECK_EQ(rc, 0);
  if (rc != 0) return;
  SafetensorsFile f = read_safetensors(file);
  CHECK_EQ(f.metadata.at("format"), std::string("s3d-nerf"));
  CHECK_EQ(f.metadata.at("note"), std::string("h\xc3\xa9llo \xf0\x9f\x98\x80 \"q\"\n"));
  CHECK_EQ(f.dtypes.at("f16.all"), std::string("F16"));
  CHECK_EQ(f.dtypes.at("bf16.all"), std::string("BF16"));
  CHECK_EQ(f.dtypes.at("f32.vals"), std::string("F32"));
  CHECK(at(f, "empty").shape == Shape({0, 3}));
  CHECK(at(f, "scalar").shape == Shape({}) && at(f, "scalar").data[0] == 7.f);

  const float f32_expect[] = {1.f, -2.5f, 0.f, -0.f, INFINITY, 1e-40f, 3.4028234663852886e38f, 0.1f, 123456.789f};
  const Tensor& fv = at(f, "f32.vals");
  CHECK_EQ(fv.numel(), int64_t(9));
  for (int i = 0; i < 9 && i < fv.numel(); ++i) CHECK(same_bits(fv.data[i], f32_expect[i]));

  // Every fp16 / bf16 bit pattern decodes exactly as torch decodes it.
  for (const char* base : {"f16.all", "bf16.all"}) {
    const Tensor& a = at(f, base);
    const Tensor& r = at(f, (std::string(base) + ".ref").c_str());
    CHECK_EQ(a.numel(), int64_t(65536));
    CHECK(a.shape == r.shape);
    int mism = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      bool nan = std::isnan(a.data[i]) && std::isnan(r.data[i]);
      if (!nan && !same_bits(a.data[i], r.data[i])) ++mism;
      // Independent of torch: the decoded value equals our own converter on i.
      uint16_t bits = static_cast<uint16_t>(i);
      float mine = base[0] == 'f' ? fp16_to_fp32(bits) : bf16_to_fp32(bits);
      if (!(std::isnan(mine) && std::isnan(a.data[i])) && !same_bits(mine, a.data[i])) ++mism;
    }
    CHECK_EQ(mism, 0);
    if (mism) std::fprintf(stderr, "  %s: %d mismatches\n", base, mism);
  }
  // Our fp32 -> fp16/bf16 rounding matches torch's (.half(), .bfloat16()).
  const Tensor& src = at(f, "round.src");
  const Tensor& h = at(f, "round.f16");
  const Tensor& b = at(f, "round.bf16");
  CHECK(src.numel() > 30000 && h.numel() == src.numel() && b.numel() == src.numel());
  int bad16 = 0, badbf = 0;
  for (int64_t i = 0; i < src.numel(); ++i) {
    if (!same_bits(fp16_to_fp32(fp32_to_fp16(src.data[i])), h.data[i])) ++bad16;
    if (!same_bits(bf16_to_fp32(fp32_to_bf16(src.data[i])), b.data[i])) ++badbf;
  }
  CHECK_EQ(bad16, 0);
  CHECK_EQ(badbf, 0);

  // And the other direction: python reads a file the C++ writer produced.
  TensorMap m;
  m["x"] = make_tensor({3, 4}, 0.5f, -1.f);
  m["s"] = make_tensor({}, 0.f, 3.25f);
  m["e"] = Tensor::empty({2, 0});
  const std::string out = dir + "/cpp.safetensors";
  write_safetensors(out, m, {{"origin", "c++"}, {"unicode", "\xc3\xa9\xf0\x9f\x98\x80"}});
  cmd = "'" + py + "' '" + script + "' check '" + out + "'";
  std::fflush(stdout);
  CHECK_EQ(std::system(cmd.c_str()), 0);
  std::printf("python cross-check: done\n");
}

// ------------------------------------------------------------------ cpu features

static int cpu_check() {
  const CpuFeatures& f = cpu_features();
  std::printf("cpu features: %s\n", cpu_features_string().c_str());
  const char* cap = std::getenv("S3D_CPU_FEATURES");
  std::string c = cap ? cap : "";
  int bad = 0;
  if (c == "scalar" && (f.avx2 || f.fma || f.avx512f || f.amx_tile)) bad++;
  if (c == "avx2" && (f.avx512f || f.avx512bw || f.amx_tile)) bad++;
  if (c == "avx512" && (f.amx_tile || f.amx_bf16)) bad++;
  if (f.avx512bw && !f.avx512f) bad++;
  if (f.amx_bf16 && !f.amx_tile) bad++;
  if (!c.empty() && c != f.cap) bad++;
  if (bad) std::fprintf(stderr, "FAIL cpu feature cap %s not honoured\n", c.c_str());
  return bad ? 1 : 0;
}

static void test_cpu(const char* argv0) {
  CHECK_EQ(cpu_check(), 0);
  std::printf("enable_amx: %s\n", enable_amx() ? "yes" : "no");
  CHECK(!enable_amx() || cpu_features().amx_tile);
  for (const char* cap : {"scalar", "avx2", "avx512"}) {
    std::fflush(stdout);
    std::string cmd = std::string("S3D_CPU_FEATURES=") + cap + " '" + argv0 + "' --cpu-check";
    CHECK_EQ(std::system(cmd.c_str()), 0);
  }
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--cpu-check") return cpu_check();
  const std::string dir = tmp_dir();
  test_json();
  test_half();
  test_safetensors(dir);
  test_model_config();
  test_weights(dir);
  test_python(dir);
  test_cpu(argv[0]);
  std::string rm = "rm -rf '" + dir + "'";
  if (std::system(rm.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", dir.c_str());
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
