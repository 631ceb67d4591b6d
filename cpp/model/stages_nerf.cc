// Stage adapters for the per-point / per-ray stages (see stages.h): fixture
// layouts in (PyTorch, batch dropped), fixture layouts out.
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/camera.h"
#include "model/deformation_field.h"
#include "model/nerf_renderer.h"
#include "model/network.h"
#include "model/stages.h"
#include "model/triplane.h"
#include "model/triplane_decoder.h"
#include "model/volume_render.h"

namespace s3d {

namespace {

const Tensor& find_input(const TensorMap& in, const std::string& name) {
  auto it = in.find(name);
  if (it == in.end()) throw Error(ErrorCode::InvalidArgument, "missing stage input \"" + name + "\"");
  return it->second;
}

// (n, 3) with any n >= 1.
const Tensor& points_input(const TensorMap& in) {
  const Tensor& p = find_input(in, "points");
  const int64_t n = p.shape.size() == 2 ? p.dim(0) : -1;
  return stage_input(in, "points", {n > 0 ? n : 1, 3});
}

Planes planes_input(const ModelConfig& cfg, const TensorMap& in) {
  std::array<Tensor, 4> hwc;
  int64_t size = cfg.image_size / 2;
  for (int l = 0; l < 4; ++l, size /= 2)
    hwc[l] = chw_to_hwc(stage_input(in, "f" + std::to_string(l), {cfg.pyramid_channels(), size, size}));
  return planes_from_hwc(hwc, cfg.plane_channels, cfg.plane_scale());
}

Tensor cm_input(const ModelConfig& cfg, const TensorMap& in) {
  const int64_t g = cfg.slot_grid();
  return chw_to_hwc(stage_input(in, "cm", {cfg.cm_channels, g, g}));
}

Mat4 pose_input(const TensorMap& in, const std::string& name) {
  const Tensor& t = stage_input(in, name, {4, 4});
  Mat4 m;
  std::memcpy(m.data(), t.data, sizeof(float) * 16);
  return m;
}

// (r, s) depths with r >= 1 and s >= 2.
std::pair<int64_t, int64_t> rays_shape(const TensorMap& in) {
  const Tensor& d = find_input(in, "depths");
  if (d.shape.size() != 2 || d.dim(0) < 1 || d.dim(1) < 2)
    throw Error(ErrorCode::InvalidArgument,
                "Expected shape [rays, samples >= 2] for stage input \"depths\" but received " + shape_str(d.shape));
  return {d.dim(0), d.dim(1)};
}

}  // namespace

TensorMap run_deformation_field_stage(const Network& net, ThreadPool&, const TensorMap& in) {
  const ModelConfig& cfg = net.cfg;
  const Tensor& pts = points_input(in);
  const Tensor cm = cm_input(cfg, in);
  const Tensor& code = stage_input(in, "code", {cfg.audio_code});
  return {{"delta", net.deform->run(pts, cm, code.data)}};
}

TensorMap run_triplane_decoder_stage(const Network& net, ThreadPool&, const TensorMap& in) {
  const ModelConfig& cfg = net.cfg;
  const Planes planes = planes_input(cfg, in);
  const Tensor& pts = points_input(in);
  const int64_t n = pts.dim(0);
  Tensor feats = Tensor::empty({n, cfg.point_feat()});
  sample_triplanes(planes, static_cast<int>(n), pts.data, 3, feats.data, cfg.point_feat());
  Tensor sigma, feat;
  net.decoder->run(feats, &sigma, &feat);
  return {{"sigma", sigma}, {"feat", feat}};
}

TensorMap run_volume_render_stage(const Network&, ThreadPool&, const TensorMap& in) {
  const auto [r, s] = rays_shape(in);
  const Tensor& depths = stage_input(in, "depths", {r, s});
  const Tensor& sigma = stage_input(in, "sigma", {r, s});
  const Tensor& fe = find_input(in, "feat");
  const int64_t C = fe.shape.size() == 3 ? fe.dim(2) : 1;
  const Tensor& feat = stage_input(in, "feat", {r, s, C > 0 ? C : 1});
  Tensor image = Tensor::empty({r, C}), alpha = Tensor::empty({r}), weights = Tensor::empty({r, s - 1});
  // Rows [feat (C) | sigma] per sample, as the renderer lays them out.
  std::vector<float> rowbuf(static_cast<size_t>(s) * (C + 1));
  std::vector<const float*> rows(s);
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t j = 0; j < s; ++j) {
      float* row = rowbuf.data() + j * (C + 1);
      std::memcpy(row, feat.data + (i * s + j) * C, sizeof(float) * C);
      row[C] = sigma.data[i * s + j];
      rows[j] = row;
    }
    composite(static_cast<int>(s), depths.data + i * s, rows.data(), static_cast<int>(C), static_cast<int>(C),
              image.data + i * C, alpha.data + i, weights.data + i * (s - 1));
  }
  return {{"image", image}, {"alpha", alpha}, {"weights", weights}};
}

TensorMap run_volume_render_importance_stage(const Network& net, ThreadPool&, const TensorMap& in) {
  const auto [r, s] = rays_shape(in);
  const Tensor& depths = stage_input(in, "depths", {r, s});
  const Tensor& weights = stage_input(in, "weights", {r, s - 1});
  const int n = net.cfg.n_importance;
  Tensor out = Tensor::empty({r, n});
  std::vector<float> cdf(s);
  for (int64_t i = 0; i < r; ++i)
    importance_depths(static_cast<int>(s), depths.data + i * s, weights.data + i * (s - 1), n, out.data + i * n,
                      cdf.data());
  return {{"depths", out}};
}

TensorMap run_nerf_renderer_stage(const Network& net, ThreadPool& pool, const TensorMap& in) {
  const ModelConfig& cfg = net.cfg;
  const Planes planes = planes_input(cfg, in);
  const Tensor cm = cm_input(cfg, in);
  const Tensor& code = stage_input(in, "code", {cfg.audio_code});
  const Tensor img = net.renderer->render(pool, planes, cm, code.data, pose_input(in, "pose_src"),
                                          pose_input(in, "pose_tar"));
  return {{"coarse", hwc_to_chw(img)}};
}

}  // namespace s3d
