#include "model/nerf_renderer.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/deformation_field.h"
#include "model/triplane_decoder.h"
#include "model/volume_render.h"

namespace s3d {

namespace {

using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point& t) {
  const Clock::time_point now = Clock::now();
  const double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}

inline size_t round_up16(size_t n) { return (n + 15) / 16 * 16; }

}  // namespace

NerfRenderer::NerfRenderer(const DeformationField& deform, const TriplaneDecoder& decoder, const ModelConfig& cfg)
    : deform_(deform), decoder_(decoder), cfg_(cfg) {}

Tensor NerfRenderer::render(ThreadPool& pool, const Planes& planes, const Tensor& cm_hwc, const float* code,
                            const Mat4& pose_src, const Mat4& pose_tar, NerfProfile* profile,
                            const PixelBox* window) const {
  const ModelConfig& c = cfg_;
  const int res = c.render_size, Nc = c.n_coarse, Ni = c.n_importance, S = Nc + Ni;
  const int F = c.feat_channels, C4 = c.point_feat(), OC = c.coarse_channels();
  if (planes.C != c.plane_channels)
    throw Error(ErrorCode::Internal, "NerfRenderer: planes have " + std::to_string(planes.C) +
                                         " channels, the model " + std::to_string(c.plane_channels));
  if (cm_hwc.shape.size() != 3 || cm_hwc.dim(2) != c.cm_channels)
    throw Error(ErrorCode::Internal, "NerfRenderer: expected F_cm of shape [g, g, " +
                                         std::to_string(c.cm_channels) + "] but received " + shape_str(cm_hwc.shape));
  if (Nc < 2) throw Error(ErrorCode::Internal, "NerfRenderer: n_coarse must be at least 2");

  // Per frame: the ray frame and the audio code folded into e1's bias.
  const Mat4 m = ray_transform(pose_tar, pose_src, c.cam_radius);
  const float origin[3] = {m[3], m[7], m[11]};
  std::vector<float> e1_bias(deform_.hidden0());
  deform_.fold_code(code, e1_bias.data());
  // Coarse depths are the bin centres, the same on every ray (coarse_depths, jitter=False).
  std::vector<float> t_coarse(Nc);
  {
    const float span = c.ray_far - c.ray_near;
    for (int i = 0; i < Nc; ++i) t_coarse[i] = coarse_depth(c.ray_near, span, i, Nc);
  }

  const int B = kBlockRays, P = kChunkPoints;
  const int ld_res = static_cast<int>(round_up16(F + 1));  // decoder row: [feat | sigma_raw]
  const int in_stride = deform_.in_stride();
  // Per-worker scratch layout (floats), allocated once per call.
  const size_t n_dirs = round_up16(B * 3);
  const size_t n_depth = round_up16(static_cast<size_t>(B) * S);          // coarse block, then fine block
  const size_t n_res = static_cast<size_t>(B) * S * ld_res;             // decoder rows, all samples
  const size_t n_pts = round_up16(static_cast<size_t>(P) * 3);
  const size_t n_in = static_cast<size_t>(P) * in_stride;
  const size_t n_mlp = round_up16(std::max(deform_.scratch_floats(P), decoder_.scratch_floats(P)));
  const size_t n_feat = static_cast<size_t>(P) * C4;
  const size_t n_ray = round_up16(static_cast<size_t>(S) * 2 + C4 + F + 16);  // weights, merged depths, cdf, out
  const size_t per_worker = n_dirs + n_depth + n_res + 2 * n_pts + n_pts + n_in + n_mlp + n_feat + n_ray;
  const int workers = pool.size();
  Tensor scratch_all = Tensor::empty({static_cast<int64_t>(per_worker * workers)});
  std::vector<NerfProfile> prof(workers);

  const PixelBox box = window ? *window : PixelBox{0, 0, res, res};
  if (box.x0 < 0 || box.y0 < 0 || box.x1 > res || box.y1 > res)
    throw Error(ErrorCode::Internal, "NerfRenderer: the ray window lies outside the " + std::to_string(res) +
                                         "x" + std::to_string(res) + " grid");
  Tensor out = window ? Tensor::zeros({res, res, OC}) : Tensor::empty({res, res, OC});
  // Ray i of the window is pixel (box.y0 + i / bw, box.x0 + i % bw) of the grid.
  const int bw = std::max(0, box.width());
  const int n_rays = box.empty() ? 0 : bw * box.height();
  const int n_blocks = (n_rays + B - 1) / B;
  auto pixel_of = [&](int i) { return (box.y0 + i / bw) * res + box.x0 + i % bw; };

  pool.parallel_for(n_blocks, 1, [&](int64_t b0, int64_t b1, int worker) {
    float* base = scratch_all.data + per_worker * worker;
    float* dirs = base;
    float* depth = dirs + n_dirs;
    float* resb = depth + n_depth;
    float* pts = resb + n_res;     // P x 3 source-frame points
    float* pts2 = pts + n_pts;     // P x 3 deformed points
    float* dx = pts2 + n_pts;      // P x 3
    float* in = dx + n_pts;
    float* mlp = in + n_in;
    float* feats = mlp + n_mlp;
    float* ray = feats + n_feat;
    std::vector<const float*> rows(S);
    std::vector<int> order(S), bsort(Ni);
    NerfProfile& pf = prof[worker];
    const bool timing = profile != nullptr;
    Clock::time_point t = timing ? Clock::now() : Clock::time_point();
    auto tick = [&](double& slot) {
      if (timing) slot += since(t);
    };

    // Evaluates the samples of rays [0, nr): point p = r * ns + s has depth
    // dep[p]; its decoder row goes to res + p * ld_res.
    auto pass = [&](int nr, int ns, const float* dep, float* res_rows) {
      const int total = nr * ns;
      for (int p0 = 0; p0 < total; p0 += P) {
        const int np = std::min(P, total - p0);
        for (int q = 0; q < np; ++q) {
          const float td = dep[p0 + q];
          const float* d = dirs + ((p0 + q) / ns) * 3;
          for (int j = 0; j < 3; ++j) pts[q * 3 + j] = origin[j] + td * d[j];
        }
        deform_.fill_inputs(np, pts, 3, cm_hwc, in, mlp);
        tick(pf.encoding);
        deform_.forward(np, in, e1_bias.data(), mlp, dx, 3);
        for (int q = 0; q < np * 3; ++q) pts2[q] = pts[q] + dx[q];
        tick(pf.deform);
        sample_triplanes(planes, np, pts2, 3, feats, C4);
        tick(pf.sampling);
        decoder_.forward(np, feats, C4, mlp, res_rows + static_cast<size_t>(p0) * ld_res, ld_res);
        tick(pf.decoder);
      }
    };

    float* dep_c = depth;                                  // B x Nc
    float* dep_f = depth + static_cast<size_t>(B) * Nc;    // B x Ni
    float* res_c = resb;                                   // B*Nc rows
    float* res_f = resb + static_cast<size_t>(B) * Nc * ld_res;
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int r0 = static_cast<int>(blk) * B;
      const int nr = std::min(B, n_rays - r0);
      for (int r = 0; r < nr; ++r) {
        const int pix = pixel_of(r0 + r);
        ray_direction(m, pix / res, pix % res, res, c.focal, dirs + r * 3);
        std::copy(t_coarse.begin(), t_coarse.end(), dep_c + r * Nc);
      }
      tick(pf.rays);
      pass(nr, Nc, dep_c, res_c);
      // Coarse weights -> importance depths.
      float* w0 = ray;
      float* cdf = ray + S;
      float* fo = ray + 2 * S;
      for (int r = 0; r < nr; ++r) {
        for (int s = 0; s < Nc; ++s) rows[s] = res_c + (static_cast<size_t>(r) * Nc + s) * ld_res;
        float alpha;
        composite(Nc, dep_c + r * Nc, rows.data(), F, F, fo, &alpha, w0);
        importance_depths(Nc, dep_c + r * Nc, w0, Ni, dep_f + r * Ni, cdf);
      }
      tick(pf.compositing);
      if (Ni > 0) pass(nr, Ni, dep_f, res_f);
      float* merged = ray;  // reuses the w0 space (S floats)
      for (int r = 0; r < nr; ++r) {
        merge_order(Nc, dep_c + r * Nc, Ni, dep_f + r * Ni, order.data(), merged, bsort.data());
        for (int s = 0; s < S; ++s) {
          const int k = order[s];
          rows[s] = k < Nc ? res_c + (static_cast<size_t>(r) * Nc + k) * ld_res
                           : res_f + (static_cast<size_t>(r) * Ni + (k - Nc)) * ld_res;
        }
        float alpha;
        composite(S, merged, rows.data(), F, F, fo, &alpha, nullptr);
        float* o = out.data + static_cast<size_t>(pixel_of(r0 + r)) * OC;
        o[0] = fo[0];
        o[1] = fo[1];
        o[2] = fo[2];
        std::copy(fo, fo + F, o + 3);
        o[3 + F] = alpha;
      }
      tick(pf.compositing);
    }
  });

  if (profile) {
    for (const NerfProfile& p : prof) {
      profile->rays += p.rays;
      profile->encoding += p.encoding;
      profile->deform += p.deform;
      profile->sampling += p.sampling;
      profile->decoder += p.decoder;
      profile->compositing += p.compositing;
    }
  }
  return out;
}

}  // namespace s3d
