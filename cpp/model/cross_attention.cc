#include "model/cross_attention.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/ops.h"
#include "model/weights.h"

namespace s3d {

CrossAttention::CrossAttention(const Weights& w, const ModelConfig& cfg) : cfg_(cfg) {
  const int d = cfg.slot_dim, ca = cfg.audio_channels;
  auto lin = [&](const std::string& n, int out, int in, PackedMatrix& m, std::vector<float>& b) {
    m = pack_linear(w.get("cross_attention." + n + ".weight", {out, in}).data, out, in);
    const Tensor& bt = w.get("cross_attention." + n + ".bias", {out});
    b.assign(bt.data, bt.data + out);
  };
  lin("q_proj", d, d, q_, q_b_);
  lin("k_proj", d, ca, k_, k_b_);
  lin("v_proj", d, ca, v_, v_b_);
  lin("out_proj", d, d, out_, out_b_);
  lin("to_map", cfg.cm_channels, d, map_, map_b_);
}

Tensor CrossAttention::query(ThreadPool& pool, const Tensor& f_agg) const {
  const int g = cfg_.slot_grid(), s = g * g, d = cfg_.slot_dim;
  check_shape(f_agg, {s, d}, "F_agg");
  Tensor q = Tensor::empty({s, d});
  Epilogue ep;
  ep.bias = q_b_.data();
  gemm(&pool, s, f_agg.data, d, q_, q.data, d, ep);
  return q;
}

Tensor CrossAttention::forward(ThreadPool& pool, const Tensor& query, const Tensor& tokens) const {
  const int g = cfg_.slot_grid(), s = g * g, d = cfg_.slot_dim, ca = cfg_.audio_channels;
  const int h = cfg_.heads, dh = d / h;
  check_shape(query, {s, d}, "the attention query");
  if (tokens.shape.size() != 2 || tokens.dim(1) != ca)
    throw Error(ErrorCode::Internal, "Expected (T, " + std::to_string(ca) + ") audio tokens but received " +
                                         shape_str(tokens.shape));
  const int t = static_cast<int>(tokens.dim(0));

  std::vector<float> k(static_cast<size_t>(t) * d), v(static_cast<size_t>(t) * d);
  Epilogue ek, ev;
  ek.bias = k_b_.data();
  ev.bias = v_b_.data();
  gemm(&pool, t, tokens.data, ca, k_, k.data(), d, ek);
  gemm(&pool, t, tokens.data, ca, v_, v.data(), d, ev);

  // Per head: softmax(q_h k_h^T / sqrt(dh)) v_h into columns [h*dh, (h+1)*dh).
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));
  std::vector<float> att(static_cast<size_t>(s) * t), out(static_cast<size_t>(s) * d);
  for (int hh = 0; hh < h; ++hh) {
    matmul(&pool, s, t, dh, query.data + hh * dh, d, k.data() + hh * dh, d, true, att.data(), t, scale);
    softmax_rows(&pool, att.data(), s, t);
    matmul(&pool, s, dh, t, att.data(), t, v.data() + hh * dh, d, false, out.data() + hh * dh, d);
  }

  std::vector<float> o(static_cast<size_t>(s) * d);
  Epilogue eo, em;
  eo.bias = out_b_.data();
  em.bias = map_b_.data();
  gemm(&pool, s, out.data(), d, out_, o.data(), d, eo);
  Tensor cm = Tensor::empty({g, g, cfg_.cm_channels});
  gemm(&pool, s, o.data(), d, map_, cm.data, cfg_.cm_channels, em);
  return cm;
}

}  // namespace s3d
