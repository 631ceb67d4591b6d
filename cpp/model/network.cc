#include "model/network.h"

#include "model/audio_net.h"
#include "model/cross_attention.h"
#include "model/deformation_field.h"
#include "model/encoder.h"
#include "model/nerf_renderer.h"
#include "model/slot_attention.h"
#include "model/super_resolution.h"
#include "model/triplane_decoder.h"
#include "model/weights.h"

namespace s3d {

Network::Network(const Weights& w, Precision precision) : cfg(w.config()) {
  encoder = std::make_unique<Encoder>(w, cfg);
  aggregator = std::make_unique<Aggregator>(w, cfg);
  audio_net = std::make_unique<AudioNet>(w, cfg);
  cross_attention = std::make_unique<CrossAttention>(w, cfg);
  sr = std::make_unique<SuperResolution>(w, cfg, precision);
  deform = std::make_unique<DeformationField>(w, cfg, precision);
  decoder = std::make_unique<TriplaneDecoder>(w, cfg, precision);
  renderer = std::make_unique<NerfRenderer>(*deform, *decoder, cfg);
  w.check_no_unused();  // a tensor nobody asked for means the file and this build disagree
}

Network::~Network() = default;

}  // namespace s3d
