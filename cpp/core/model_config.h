// Model hyper-parameters. Mirrors train/s3d_nerf/config.py field for field;
// it travels as JSON in the safetensors metadata under key "config".
#pragma once
#include <array>
#include <string>
#include <vector>

namespace s3d {

struct AudioFrontEnd {
  std::string kind = "logmel";  // only "logmel" is built in (DESIGN §3.5)
  int sample_rate = 16000;
  int n_fft = 800;
  int hop = 200;
  int n_mels = 80;
  float f_min = 55.f;
  float f_max = 7600.f;
  float log_floor = 1e-5f;  // log(max(mel, floor))
  int window_frames = 32;   // mel frames per video frame window
  int fps = 25;
};

struct ModelConfig {
  std::string name = "s3d-64";
  int image_size = 256;                           // aligned face crop
  std::vector<int> enc_channels = {64, 128, 256, 96};  // D0..D3
  int plane_channels = 32;                        // per plane; pyramid width = 3 * this
  float lrelu_slope = 0.2f;
  // slot attention (tokens on the F3 grid: image_size / 16 squared)
  int slot_dim = 256;
  int slot_iters = 3;
  int slot_mlp = 512;
  // audio net + cross attention
  int audio_channels = 256;
  int audio_tokens = 8;   // window_frames / 4
  int audio_code = 64;
  int heads = 8;
  int cm_channels = 64;   // F_cm map channels
  // deformation MLP
  int pe_freqs = 6;
  std::vector<int> deform_hidden = {128, 64, 32};
  // tri-plane decoder
  int decoder_hidden = 64;
  int feat_channels = 32;  // decoder outputs 1 + feat_channels
  // volume rendering
  int render_size = 64;    // image_size / 4
  int n_coarse = 24;
  int n_importance = 24;
  float ray_near = 2.25f;
  float ray_far = 3.3f;
  float focal = 4.2647f;   // in units of image width
  float cam_radius = 2.7f;
  // super-resolution
  std::vector<int> sr_source_channels = {32, 64};  // @image, @image/2
  int sr_mid_channels = 128;                       // @image/2
  int sr_out_channels = 64;                        // @image
  // The SR source branch sees mid-grey over the inner face inside the box
  // sr_hole = {x0, y0, x1, y1} (fractions of image_size; empty = no hole), ramped
  // linearly over sr_hole_feather at its edges, so the mouth must come through the
  // NeRF (hide_mouth in super_resolution.py). Model files from before the box carry
  // sr_hide_below = b instead, read as {0, b, 1, 1} with no feather (b = 0 or neither
  // key: no hole).
  std::vector<float> sr_hole = {0.31f, 0.53f, 0.69f, 0.86f};
  float sr_hole_feather = 0.04f;
  // The SR's last 1x1 conv has a 4th output, a gate logit; the image is
  // g * seen + (1 - g) * generated, seen = the source as the SR branch sees it
  // (mouth hidden). The first trained model's; absent from older files: false.
  bool sr_source_gate = false;
  // No gate: the image is keep * seen + (1 - keep) * generated, keep = 1 - the mouth
  // hole weight, i.e. the photo outside the hole and generated inside it
  // (sr_paste_source in config.py says why). Needs a hole; excludes sr_source_gate.
  // Absent from older model files: parsed as false there.
  bool sr_paste_source = true;
  // Tri-plane box [-e, e]^3 and orientation (config.py explains the choice): a point p
  // samples the planes and the F_cm map at q = p * plane_scale(). Absent from older
  // model files, which mean e = 0.5, y up (q = 2p): parsed so there.
  float plane_extent = 0.3166f;
  bool plane_y_down = true;
  std::array<float, 3> plane_scale() const {
    const float s = 1.f / plane_extent;
    return {s, plane_y_down ? -s : s, s};
  }

  AudioFrontEnd audio;

  int pyramid_channels() const { return 3 * plane_channels; }
  int slot_grid() const { return image_size / 16; }
  int mid_size() const { return image_size / 2; }
  int pe_dim() const { return 3 + 6 * pe_freqs; }
  int deform_in() const { return pe_dim() + cm_channels + audio_code; }
  int point_feat() const { return 4 * plane_channels; }
  int coarse_channels() const { return 3 + feat_channels + 1; }
};

// Parses and validates the "config" JSON object; throws std::runtime_error
// naming the offending field.
ModelConfig parse_model_config(const std::string& json);
std::string model_config_to_json(const ModelConfig& c);

}  // namespace s3d
