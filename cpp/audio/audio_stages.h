// Stage adapters for the audio front end, so parity tests can run it through
// Engine::run_stage against tests/fixtures/audio.safetensors (written by
// train/fixtures_audio.py). Tensors in PyTorch layout; scalars are shape (1,).
//   resample:       samples (n), sample_rate (1)      -> samples16k (ceil(n * fe.sample_rate / rate))
//   log_mel:        samples16k (n)                     -> logmel (n_mels, T)
//   deform_window:  samples16k (n), frame (1)          -> window (n_mels, window_frames)
//   audio_features: samples (n), sample_rate (1)       -> logmel (n_mels, T), frame_count (1),
//                                                         sample_count16k (1)   [the prepare_audio path]
#pragma once
#include "core/model_config.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace s3d {

TensorMap run_resample_stage(const AudioFrontEnd& fe, ThreadPool& pool, const TensorMap& in);
TensorMap run_log_mel_stage(const AudioFrontEnd& fe, ThreadPool& pool, const TensorMap& in);
TensorMap run_deform_window_stage(const AudioFrontEnd& fe, ThreadPool& pool, const TensorMap& in);
TensorMap run_audio_features_stage(const AudioFrontEnd& fe, ThreadPool& pool, const TensorMap& in);

}  // namespace s3d
