// Multi-head cross attention between F_agg (queries) and the audio tokens
// (keys/values), paper Eq. 3, then out_proj and the 1x1 map to F_cm
// (DESIGN §3.2; train/s3d_nerf/cross_attention.py). No residual.
#pragma once
#include <vector>

#include "core/model_config.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"

namespace s3d {

class Weights;

class CrossAttention {
 public:
  CrossAttention(const Weights& w, const ModelConfig& cfg);  // "cross_attention.*"

  // q_proj(F_agg): (S, slot_dim) -> (S, slot_dim). Cached per identity.
  Tensor query(ThreadPool& pool, const Tensor& f_agg) const;
  // query (S, D), tokens (T, audio_channels) -> F_cm channel-last
  // (grid, grid, cm_channels) (token s = row * grid + col).
  Tensor forward(ThreadPool& pool, const Tensor& query, const Tensor& tokens) const;

  const ModelConfig& config() const { return cfg_; }

 private:
  ModelConfig cfg_;
  PackedMatrix q_, k_, v_, out_, map_;
  std::vector<float> q_b_, k_b_, v_b_, out_b_, map_b_;
};

// Stage adapter on fixture layouts: f_agg (S, D), tokens (T, Ca) -> cm (cm, g, g).
TensorMap run_cross_attention_stage(const CrossAttention& ca, ThreadPool& pool, const TensorMap& in);

}  // namespace s3d
