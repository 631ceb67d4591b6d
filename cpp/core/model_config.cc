#include "core/model_config.h"

#include <charconv>
#include <limits>

#include "core/error.h"
#include "core/json.h"

namespace s3d {

namespace {

constexpr int64_t kMaxSize = int64_t(1) << 20;  // generous cap; keeps products in range
const double kInf = std::numeric_limits<double>::infinity();
const double kFloatMax = std::numeric_limits<float>::max();

std::string fstr(float f) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::string(buf, r.ptr);
}

[[noreturn]] void config_error(const std::string& msg) { throw Error(ErrorCode::ModelFormat, msg); }

int pos_int(const JsonValue& o, const char* key, const std::string& path) {
  return static_cast<int>(get_int(o, key, path, 1, kMaxSize));
}

std::vector<int> pos_ints(const JsonValue& o, const char* key, const std::string& path, size_t n) {
  std::vector<int> out;
  for (int64_t v : get_int_array(o, key, path, n, 1, kMaxSize)) out.push_back(static_cast<int>(v));
  return out;
}

float pos_float(const JsonValue& o, const char* key, const std::string& path) {
  return static_cast<float>(get_float(o, key, path, 0, kFloatMax, true));
}

JsonValue ints(const std::vector<int>& v) {
  JsonValue a = JsonValue::array();
  for (int x : v) a.push_back(JsonValue::number(x));
  return a;
}

JsonValue floats(const std::vector<float>& v) {
  JsonValue a = JsonValue::array();
  for (float x : v) a.push_back(json_float(x));
  return a;
}

AudioFrontEnd parse_audio(const JsonValue& o, const std::string& path) {
  AudioFrontEnd a;
  a.kind = get_string(o, "kind", path);
  if (a.kind != "logmel")
    config_error("Expected \"logmel\" for " + path + ".kind but received " + json_quote(a.kind) +
                 " (only the log-mel front end is built in)");
  a.sample_rate = static_cast<int>(get_int(o, "sample_rate", path, 1000, 384000));
  a.n_fft = pos_int(o, "n_fft", path);
  a.hop = pos_int(o, "hop", path);
  a.n_mels = pos_int(o, "n_mels", path);
  a.f_min = static_cast<float>(get_float(o, "f_min", path, 0, kFloatMax));
  a.f_max = pos_float(o, "f_max", path);
  a.log_floor = pos_float(o, "log_floor", path);
  a.window_frames = pos_int(o, "window_frames", path);
  a.fps = static_cast<int>(get_int(o, "fps", path, 1, 1000));
  if (a.f_max <= a.f_min)
    config_error("Expected " + path + ".f_max to be greater than " + path + ".f_min (" +
                 fstr(a.f_min) + ") but received " + fstr(a.f_max));
  if (a.f_max > a.sample_rate / 2.f)
    config_error("Expected " + path + ".f_max to be at most the Nyquist frequency " +
                 std::to_string(a.sample_rate / 2) + " but received " + fstr(a.f_max));
  if (a.n_mels > a.n_fft / 2 + 1)
    config_error("Expected " + path + ".n_mels to be at most n_fft / 2 + 1 = " +
                 std::to_string(a.n_fft / 2 + 1) + " but received " + std::to_string(a.n_mels));
  return a;
}

}  // namespace

ModelConfig parse_model_config(const std::string& json) {
  const JsonValue root = parse_json(json, "config");
  const std::string P = "config";
  if (!root.is_object())
    config_error(std::string("Expected a JSON object for config but received a ") + root.type_name());

  ModelConfig c;
  c.name = get_string(root, "name", P);
  c.image_size = pos_int(root, "image_size", P);
  c.enc_channels = pos_ints(root, "enc_channels", P, 4);
  c.plane_channels = pos_int(root, "plane_channels", P);
  c.lrelu_slope = static_cast<float>(get_float(root, "lrelu_slope", P, 0, 1));
  c.slot_dim = pos_int(root, "slot_dim", P);
  c.slot_iters = pos_int(root, "slot_iters", P);
  c.slot_mlp = pos_int(root, "slot_mlp", P);
  c.audio_channels = pos_int(root, "audio_channels", P);
  c.audio_tokens = pos_int(root, "audio_tokens", P);
  c.audio_code = pos_int(root, "audio_code", P);
  c.heads = pos_int(root, "heads", P);
  c.cm_channels = pos_int(root, "cm_channels", P);
  c.pe_freqs = static_cast<int>(get_int(root, "pe_freqs", P, 0, 32));
  c.deform_hidden = pos_ints(root, "deform_hidden", P, 3);
  c.decoder_hidden = pos_int(root, "decoder_hidden", P);
  c.feat_channels = pos_int(root, "feat_channels", P);
  c.render_size = pos_int(root, "render_size", P);
  c.n_coarse = pos_int(root, "n_coarse", P);
  c.n_importance = static_cast<int>(get_int(root, "n_importance", P, 0, kMaxSize));
  c.ray_near = pos_float(root, "ray_near", P);
  c.ray_far = pos_float(root, "ray_far", P);
  c.focal = pos_float(root, "focal", P);
  c.cam_radius = pos_float(root, "cam_radius", P);
  c.sr_source_channels = pos_ints(root, "sr_source_channels", P, 2);
  c.sr_mid_channels = pos_int(root, "sr_mid_channels", P);
  c.sr_out_channels = pos_int(root, "sr_out_channels", P);
  // Mouth hole: sr_hole + sr_hole_feather, or the older sr_hide_below (every inner-face
  // row below it), or neither (models exported before the hole existed: no hole).
  c.sr_hole_feather = 0.f;
  c.sr_hole.clear();
  if (const JsonValue* v = root.find("sr_hole")) {
    bool ok = v->is_array() && (v->items().size() == 0 || v->items().size() == 4);
    for (size_t i = 0; ok && i < v->items().size(); ++i) ok = v->items()[i].is_number();
    if (ok && v->items().size() == 4) {
      const std::vector<JsonValue>& b = v->items();
      const double x0 = b[0].as_number(), y0 = b[1].as_number(), x1 = b[2].as_number(), y1 = b[3].as_number();
      ok = 0 <= x0 && x0 < x1 && x1 <= 1 && 0 <= y0 && y0 < y1 && y1 <= 1;
      if (ok) c.sr_hole = {static_cast<float>(x0), static_cast<float>(y0), static_cast<float>(x1),
                           static_cast<float>(y1)};
    }
    if (!ok)
      config_error("Expected [] or [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 for "
                   "config.sr_hole but received " + json_preview(*v));
    const JsonValue* f = root.find("sr_hole_feather");
    const double d = f && f->is_number() ? f->as_number() : -1;
    if (!(d >= 0 && d < 1))
      config_error("Expected a number in [0, 1) for config.sr_hole_feather but received " +
                   (f ? json_preview(*f) : std::string("nothing")));
    c.sr_hole_feather = static_cast<float>(d);
  } else if (const JsonValue* v = root.find("sr_hide_below")) {
    const double d = v->is_number() ? v->as_number() : -1;
    if (!(d >= 0 && d < 1))
      config_error("Expected a number in [0, 1) for config.sr_hide_below but received " + json_preview(*v));
    if (d > 0) c.sr_hole = {0.f, static_cast<float>(d), 1.f, 1.f};
  }
  c.sr_source_gate = false;
  if (const JsonValue* v = root.find("sr_source_gate")) {
    if (!v->is_bool())
      config_error("Expected true or false for config.sr_source_gate but received " + json_preview(*v));
    c.sr_source_gate = v->as_bool();
  }
  if (const JsonValue* v = root.find("sr_gate_keep"); v && !(v->is_bool() && !v->as_bool()))
    config_error("config.sr_gate_keep (a hole-aware learned gate, never released) is not supported: "
                 "convert the file with upgrade_state in train/s3d_nerf/export.py to sr_paste_source");
  c.sr_paste_source = false;
  if (const JsonValue* v = root.find("sr_paste_source")) {
    if (!v->is_bool())
      config_error("Expected true or false for config.sr_paste_source but received " + json_preview(*v));
    c.sr_paste_source = v->as_bool();
  }
  if (c.sr_paste_source && c.sr_source_gate)
    config_error("config.sr_paste_source and config.sr_source_gate are both true: the output is either "
                 "pasted by the mouth hole or blended by a learned gate");
  if (c.sr_paste_source && c.sr_hole.empty())
    config_error("config.sr_paste_source is true but config.sr_hole is empty: with no hole there is nothing "
                 "to generate");
  c.plane_extent = 0.5f;
  if (const JsonValue* v = root.find("plane_extent")) {
    const double d = v->is_number() ? v->as_number() : -1;
    if (!(d > 0 && d <= 100))
      config_error("Expected a number in (0, 100] for config.plane_extent but received " + json_preview(*v));
    c.plane_extent = static_cast<float>(d);
  }
  c.plane_y_down = false;
  if (const JsonValue* v = root.find("plane_y_down")) {
    if (!v->is_bool())
      config_error("Expected true or false for config.plane_y_down but received " + json_preview(*v));
    c.plane_y_down = v->as_bool();
  }
  const JsonValue& audio = get_field(root, "audio", P);
  if (!audio.is_object())
    config_error("Expected an object for config.audio but received " + json_preview(audio));
  c.audio = parse_audio(audio, P + ".audio");

  // Cross-field consistency.
  if (c.image_size % 16 != 0)
    config_error("Expected a multiple of 16 for config.image_size but received " +
                 std::to_string(c.image_size));
  if (c.render_size != c.image_size / 4)
    config_error("Expected config.render_size to be config.image_size / 4 = " +
                 std::to_string(c.image_size / 4) + " but received " + std::to_string(c.render_size));
  if (int64_t(c.audio_tokens) * 4 != c.audio.window_frames)
    config_error("Expected config.audio_tokens * 4 to equal config.audio.window_frames (" +
                 std::to_string(c.audio.window_frames) + ") but config.audio_tokens is " +
                 std::to_string(c.audio_tokens));
  if (c.slot_dim % c.heads != 0)
    config_error("Expected config.slot_dim (" + std::to_string(c.slot_dim) +
                 ") to be divisible by config.heads but received " + std::to_string(c.heads));
  if (int64_t(c.enc_channels[3]) != 3 * int64_t(c.plane_channels))
    config_error("Expected config.enc_channels[3] to equal 3 * config.plane_channels = " +
                 std::to_string(3 * int64_t(c.plane_channels)) + " but received " +
                 std::to_string(c.enc_channels[3]));
  if (!(c.ray_near < c.ray_far))
    config_error("Expected config.ray_far to be greater than config.ray_near (" +
                 fstr(c.ray_near) + ") but received " + fstr(c.ray_far));
  return c;
}

std::string model_config_to_json(const ModelConfig& c) {
  JsonValue a = JsonValue::object();
  a.set("kind", JsonValue::string(c.audio.kind));
  a.set("sample_rate", JsonValue::number(c.audio.sample_rate));
  a.set("n_fft", JsonValue::number(c.audio.n_fft));
  a.set("hop", JsonValue::number(c.audio.hop));
  a.set("n_mels", JsonValue::number(c.audio.n_mels));
  a.set("f_min", json_float(c.audio.f_min));
  a.set("f_max", json_float(c.audio.f_max));
  a.set("log_floor", json_float(c.audio.log_floor));
  a.set("window_frames", JsonValue::number(c.audio.window_frames));
  a.set("fps", JsonValue::number(c.audio.fps));

  JsonValue o = JsonValue::object();
  o.set("name", JsonValue::string(c.name));
  o.set("image_size", JsonValue::number(c.image_size));
  o.set("enc_channels", ints(c.enc_channels));
  o.set("plane_channels", JsonValue::number(c.plane_channels));
  o.set("lrelu_slope", json_float(c.lrelu_slope));
  o.set("slot_dim", JsonValue::number(c.slot_dim));
  o.set("slot_iters", JsonValue::number(c.slot_iters));
  o.set("slot_mlp", JsonValue::number(c.slot_mlp));
  o.set("audio_channels", JsonValue::number(c.audio_channels));
  o.set("audio_tokens", JsonValue::number(c.audio_tokens));
  o.set("audio_code", JsonValue::number(c.audio_code));
  o.set("heads", JsonValue::number(c.heads));
  o.set("cm_channels", JsonValue::number(c.cm_channels));
  o.set("pe_freqs", JsonValue::number(c.pe_freqs));
  o.set("deform_hidden", ints(c.deform_hidden));
  o.set("decoder_hidden", JsonValue::number(c.decoder_hidden));
  o.set("feat_channels", JsonValue::number(c.feat_channels));
  o.set("render_size", JsonValue::number(c.render_size));
  o.set("n_coarse", JsonValue::number(c.n_coarse));
  o.set("n_importance", JsonValue::number(c.n_importance));
  o.set("ray_near", json_float(c.ray_near));
  o.set("ray_far", json_float(c.ray_far));
  o.set("focal", json_float(c.focal));
  o.set("cam_radius", json_float(c.cam_radius));
  o.set("sr_source_channels", ints(c.sr_source_channels));
  o.set("sr_mid_channels", JsonValue::number(c.sr_mid_channels));
  o.set("sr_out_channels", JsonValue::number(c.sr_out_channels));
  o.set("sr_hole", floats(c.sr_hole));
  o.set("sr_hole_feather", json_float(c.sr_hole_feather));
  o.set("sr_source_gate", JsonValue::boolean(c.sr_source_gate));
  o.set("sr_paste_source", JsonValue::boolean(c.sr_paste_source));
  o.set("plane_extent", json_float(c.plane_extent));
  o.set("plane_y_down", JsonValue::boolean(c.plane_y_down));
  o.set("audio", std::move(a));
  return to_json(o);
}

}  // namespace s3d
