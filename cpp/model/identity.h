// Everything renderFrame needs from the source photo, computed once by
// Engine::encode_identity (DESIGN §1: encoder + slot attention + SR source branch).
#pragma once
#include "core/tensor.h"
#include "model/engine.h"
#include "model/pixel_box.h"
#include "model/triplane.h"

namespace s3d {

struct IdentityState {
  Planes planes;   // F^0..F^3, channel-last tri-planes
  Tensor query;    // MHCA query projection of F_agg, (S, slot_dim)
  Tensor sr_full;  // SR source features (H, W, c0)
  Tensor sr_half;  // SR source features (H/2, W/2, c1)
  Tensor sr_seen;  // the source as the SR branch sees it (mouth hidden), (H, W, 3); blended into the output
  Tensor sr_keep;  // 1 - the mouth hole weight, (H, W, 1); pastes seen outside the hole (sr_paste_source)
  PixelBox sr_box;  // the bounding box of keep < 1: all that a frame renders (sr_paste_source)
  Mat4 pose_src;
};

}  // namespace s3d
