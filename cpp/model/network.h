// All modules of the S3D-NeRF generator, built once from validated weights.
// Module classes live one per file (encoder.h, slot_attention.h, ...).
#pragma once
#include <memory>

#include "core/model_config.h"
#include "core/precision.h"

namespace s3d {

class Weights;
class Encoder;
class Aggregator;
class AudioNet;
class CrossAttention;
class SuperResolution;
class DeformationField;
class TriplaneDecoder;
class NerfRenderer;

class Network {
 public:
  // Throws ModelFormat on any missing/misshapen tensor. precision picks the
  // per-frame kernels of the NeRF MLPs and the SR convolutions (core/precision.h).
  explicit Network(const Weights& w, Precision precision = Precision::Exact);
  ~Network();

  ModelConfig cfg;
  std::unique_ptr<Encoder> encoder;                // "encoder.*"
  std::unique_ptr<Aggregator> aggregator;          // "aggregator.*"
  std::unique_ptr<AudioNet> audio_net;             // "audio_net.*"
  std::unique_ptr<CrossAttention> cross_attention; // "cross_attention.*"
  std::unique_ptr<SuperResolution> sr;             // "sr_source.*" and "sr.*"
  std::unique_ptr<DeformationField> deform;        // "deform.*"
  std::unique_ptr<TriplaneDecoder> decoder;        // "decoder.*"
  std::unique_ptr<NerfRenderer> renderer;          // uses deform + decoder
};

}  // namespace s3d
