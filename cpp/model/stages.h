// Stage adapters: run one stage of the network on fixture-layout inputs
// (PyTorch layout, batch dimension dropped; see docs/FIXTURES.md) and return
// fixture-layout outputs. Used by Engine::run_stage for parity tests.
// run_<S>_stage runs fixture stage S; S is the stage's file name (model/<S>.h),
// or <file>_<part> where one file has two checked entry points (docs/FIXTURES.md).
#pragma once
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace s3d {

class Network;

// Conv / attention stages (cpp/model/stages_conv.cc)
TensorMap run_encoder_stage(const Network&, ThreadPool&, const TensorMap& in);
TensorMap run_slot_attention_stage(const Network&, ThreadPool&, const TensorMap& in);
TensorMap run_audio_net_stage(const Network&, ThreadPool&, const TensorMap& in);
TensorMap run_cross_attention_stage(const Network&, ThreadPool&, const TensorMap& in);
TensorMap run_super_resolution_source_stage(const Network&, ThreadPool&, const TensorMap& in);
TensorMap run_super_resolution_stage(const Network&, ThreadPool&, const TensorMap& in);

// Per-point / per-ray stages (cpp/model/stages_nerf.cc)
TensorMap run_deformation_field_stage(const Network&, ThreadPool&, const TensorMap& in);
TensorMap run_triplane_decoder_stage(const Network&, ThreadPool&, const TensorMap& in);
TensorMap run_volume_render_stage(const Network&, ThreadPool&, const TensorMap& in);
TensorMap run_volume_render_importance_stage(const Network&, ThreadPool&, const TensorMap& in);
TensorMap run_nerf_renderer_stage(const Network&, ThreadPool&, const TensorMap& in);

// Helpers shared by the adapters (cpp/model/stages_common.cc)
const Tensor& stage_input(const TensorMap& in, const std::string& name, const Shape& expected);
Tensor chw_to_hwc(const Tensor& chw);  // (C,H,W) -> (H,W,C)
Tensor hwc_to_chw(const Tensor& hwc);  // (H,W,C) -> (C,H,W)

}  // namespace s3d
