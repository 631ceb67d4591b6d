#include "model/slot_attention.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/ops.h"
#include "model/weights.h"

namespace s3d {

namespace {

std::vector<float> vec(const Tensor& t) { return std::vector<float>(t.data, t.data + t.numel()); }

// y = nn.LayerNorm(x) over rows of `dim` floats (x and y may alias).
void layer_norm(ThreadPool& pool, const float* x, float* y, int rows, int dim, const std::vector<float>& g,
                const std::vector<float>& b) {
  if (x != y) std::copy(x, x + static_cast<size_t>(rows) * dim, y);
  layer_norm_rows(&pool, y, rows, dim, g.data(), b.data());
}

float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

}  // namespace

Aggregator::Aggregator(const Weights& w, const ModelConfig& cfg) : cfg_(cfg) {
  const int cin = 4 * cfg.pyramid_channels(), d = cfg.slot_dim, g2 = cfg.slot_grid() * cfg.slot_grid();
  auto norm = [&](const std::string& n, int dim) {
    return Norm{vec(w.get(n + ".weight", {dim})), vec(w.get(n + ".bias", {dim}))};
  };
  auto lin = [&](const std::string& n, int out, int in) {
    return pack_linear(w.get(n, {out, in}).data, out, in);
  };
  const std::string s = "aggregator.slots.";
  norm_ = norm("aggregator.norm", cin);
  proj_ = lin("aggregator.proj.weight", d, cin);
  proj_b_ = vec(w.get("aggregator.proj.bias", {d}));
  pos_ = vec(w.get("aggregator.pos", {g2, d}));
  norm_inputs_ = norm(s + "norm_inputs", d);
  norm_slots_ = norm(s + "norm_slots", d);
  norm_mlp_ = norm(s + "norm_mlp", d);
  to_q_ = lin(s + "to_q.weight", d, d);
  to_k_ = lin(s + "to_k.weight", d, d);
  to_v_ = lin(s + "to_v.weight", d, d);
  gru_ih_ = lin(s + "gru.weight_ih", 3 * d, d);
  gru_hh_ = lin(s + "gru.weight_hh", 3 * d, d);
  gru_bih_ = vec(w.get(s + "gru.bias_ih", {3 * d}));
  gru_bhh_ = vec(w.get(s + "gru.bias_hh", {3 * d}));
  mlp1_ = lin(s + "mlp.0.weight", cfg.slot_mlp, d);
  mlp1_b_ = vec(w.get(s + "mlp.0.bias", {cfg.slot_mlp}));
  mlp2_ = lin(s + "mlp.2.weight", d, cfg.slot_mlp);
  mlp2_b_ = vec(w.get(s + "mlp.2.bias", {d}));
}

Tensor Aggregator::forward(ThreadPool& pool, const std::array<Tensor, 4>& feats) const {
  const int g = cfg_.slot_grid(), n = g * g, p = cfg_.pyramid_channels(), cin = 4 * p;
  const int d = cfg_.slot_dim;

  // Tokens: each level average-pooled to g x g (kernel = stride = size / g),
  // levels concatenated along channels.
  std::vector<float> x(static_cast<size_t>(n) * cin);
  for (int l = 0; l < 4; ++l) {
    const Tensor& f = feats[l];
    const int sz = static_cast<int>(f.dim(0));
    if (f.shape != Shape{sz, sz, p} || sz % g != 0)
      throw Error(ErrorCode::Internal, "Expected a (h, h, " + std::to_string(p) + ") pyramid level " +
                                           std::to_string(l) + " but received " + shape_str(f.shape));
    const int k = sz / g;
    const float inv = 1.f / static_cast<float>(k * k);
    for (int ty = 0; ty < g; ++ty)
      for (int tx = 0; tx < g; ++tx) {
        float* o = x.data() + static_cast<size_t>(ty * g + tx) * cin + l * p;
        for (int c = 0; c < p; ++c) o[c] = 0.f;
        for (int yy = 0; yy < k; ++yy)
          for (int xx = 0; xx < k; ++xx) {
            const float* src = f.data + (static_cast<int64_t>(ty * k + yy) * sz + (tx * k + xx)) * p;
            for (int c = 0; c < p; ++c) o[c] += src[c];
          }
        if (k > 1)
          for (int c = 0; c < p; ++c) o[c] *= inv;
      }
  }

  // proj(norm(x)) + pos
  std::vector<float> xn(x.size());
  layer_norm(pool, x.data(), xn.data(), n, cin, norm_.gamma, norm_.beta);
  Tensor slots = Tensor::empty({n, d});
  std::copy(pos_.begin(), pos_.end(), slots.data);
  Epilogue acc;
  acc.bias = proj_b_.data();
  acc.accumulate = true;
  gemm(&pool, n, xn.data(), cin, proj_, slots.data, d, acc);

  // Slot attention; the tokens are both the inputs and the initial slots.
  const size_t nd = static_cast<size_t>(n) * d;
  std::vector<float> tn(nd), k(nd), v(nd), sn(nd), q(nd), upd(nd);
  std::vector<float> logits(static_cast<size_t>(n) * n), attn_t(static_cast<size_t>(n) * n);
  std::vector<float> gi(3 * nd), gh(3 * nd), hid(static_cast<size_t>(n) * cfg_.slot_mlp);
  layer_norm(pool, slots.data, tn.data(), n, d, norm_inputs_.gamma, norm_inputs_.beta);
  gemm(&pool, n, tn.data(), d, to_k_, k.data(), d);
  gemm(&pool, n, tn.data(), d, to_v_, v.data(), d);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));

  for (int it = 0; it < cfg_.slot_iters; ++it) {
    layer_norm(pool, slots.data, sn.data(), n, d, norm_slots_.gamma, norm_slots_.beta);
    gemm(&pool, n, sn.data(), d, to_q_, q.data(), d);
    // logits[i][j] = k_i . q_j * scale (inputs i x slots j); softmax over slots
    matmul(&pool, n, n, d, k.data(), d, q.data(), d, true, logits.data(), n, scale);
    softmax_rows(&pool, logits.data(), n, n);
    std::vector<double> colsum(n, 0.0);
    for (int i = 0; i < n; ++i) {
      float* r = logits.data() + static_cast<size_t>(i) * n;
      for (int j = 0; j < n; ++j) {
        r[j] += 1e-8f;
        colsum[j] += r[j];
      }
    }
    // Weighted mean over inputs: attn_t[j][i] = attn[i][j] / sum_i attn[i][j].
    for (int j = 0; j < n; ++j) {
      const float inv = static_cast<float>(1.0 / colsum[j]);
      float* o = attn_t.data() + static_cast<size_t>(j) * n;
      for (int i = 0; i < n; ++i) o[i] = logits[static_cast<size_t>(i) * n + j] * inv;
    }
    matmul(&pool, n, d, n, attn_t.data(), n, v.data(), d, false, upd.data(), d);

    // GRUCell(updates, prev): gate rows r, z, n.
    Epilogue eih, ehh;
    eih.bias = gru_bih_.data();
    ehh.bias = gru_bhh_.data();
    gemm(&pool, n, upd.data(), d, gru_ih_, gi.data(), 3 * d, eih);
    gemm(&pool, n, slots.data, d, gru_hh_, gh.data(), 3 * d, ehh);
    for (int s = 0; s < n; ++s) {
      const float* a = gi.data() + static_cast<size_t>(s) * 3 * d;
      const float* b = gh.data() + static_cast<size_t>(s) * 3 * d;
      float* h = slots.data + static_cast<size_t>(s) * d;
      for (int c = 0; c < d; ++c) {
        const float r = sigmoid(a[c] + b[c]);
        const float z = sigmoid(a[d + c] + b[d + c]);
        const float nn = std::tanh(a[2 * d + c] + r * b[2 * d + c]);
        h[c] = (1.f - z) * nn + z * h[c];
      }
    }

    // slots += mlp(norm_mlp(slots))
    layer_norm(pool, slots.data, sn.data(), n, d, norm_mlp_.gamma, norm_mlp_.beta);
    Epilogue e1;
    e1.bias = mlp1_b_.data();
    e1.act = Act::Relu;
    gemm(&pool, n, sn.data(), d, mlp1_, hid.data(), cfg_.slot_mlp, e1);
    Epilogue e2;
    e2.bias = mlp2_b_.data();
    e2.accumulate = true;
    gemm(&pool, n, hid.data(), cfg_.slot_mlp, mlp2_, slots.data, d, e2);
  }
  return slots;
}

}  // namespace s3d
