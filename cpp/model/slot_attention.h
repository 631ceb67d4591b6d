// Multi-scale feature aggregation with slot attention (DESIGN §3.2;
// train/s3d_nerf/slot_attention.py): F^0..F^3 pooled to the F^3 grid,
// concatenated, LayerNorm, linear, position embedding, then slot attention
// (slots initialised from the tokens, GRUCell update + residual MLP).
#pragma once
#include <array>
#include <vector>

#include "core/model_config.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"

namespace s3d {

class Weights;

class Aggregator {
 public:
  Aggregator(const Weights& w, const ModelConfig& cfg);  // "aggregator.*"

  // feats_hwc: F^0..F^3 channel-last (Encoder::forward). Returns F_agg
  // (S, slot_dim), S = slot_grid^2, token index = row * grid + col.
  Tensor forward(ThreadPool& pool, const std::array<Tensor, 4>& feats_hwc) const;

  const ModelConfig& config() const { return cfg_; }

 private:
  struct Norm {
    std::vector<float> gamma, beta;
  };
  ModelConfig cfg_;
  Norm norm_, norm_inputs_, norm_slots_, norm_mlp_;
  PackedMatrix proj_, to_q_, to_k_, to_v_, gru_ih_, gru_hh_, mlp1_, mlp2_;
  std::vector<float> proj_b_, pos_, gru_bih_, gru_bhh_, mlp1_b_, mlp2_b_;
};

// Stage adapter on fixture layouts: f0..f3 (3P, h, w) -> f_agg (S, slot_dim).
TensorMap run_slot_attention_stage(const Aggregator& agg, ThreadPool& pool, const TensorMap& in);

}  // namespace s3d
