#include "model/triplane.h"

#include <cstring>

#include "core/error.h"

namespace s3d {

Planes planes_from_hwc(const std::array<Tensor, 4>& hwc, int C, const std::array<float, 3>& scale) {
  if (C <= 0) throw Error(ErrorCode::Internal, "planes_from_hwc: plane channels must be positive");
  Planes p;
  p.C = C;
  p.scale = scale;
  p.zeros.assign(static_cast<size_t>(C) + 16, 0.f);
  for (int l = 0; l < 4; ++l) {
    const Tensor& t = hwc[l];
    if (t.shape.size() != 3 || t.dim(2) != 3 * C)
      throw Error(ErrorCode::Internal, "planes_from_hwc: expected level " + std::to_string(l) +
                                           " of shape [h, w, " + std::to_string(3 * C) + "] but received " +
                                           shape_str(t.shape));
    const int64_t h = t.dim(0), w = t.dim(1);
    Tensor o = Tensor::empty({3, h, w, C});
    for (int k = 0; k < 3; ++k)
      for (int64_t i = 0; i < h * w; ++i)
        std::memcpy(o.data + (k * h * w + i) * C, t.data + i * 3 * C + k * C, sizeof(float) * C);
    p.levels[l] = o;
  }
  return p;
}

TriplaneView Planes::view() const {
  TriplaneView v;
  for (int l = 0; l < 4; ++l) {
    v.level[l] = levels[l].data;
    v.h[l] = h(l);
    v.w[l] = w(l);
  }
  v.C = C;
  for (int k = 0; k < 3; ++k) v.scale[k] = scale[k];
  v.zeros = zeros.data();
  return v;
}

void sample_triplanes(const Planes& planes, int n, const float* pts, int pts_stride, float* out, int ldo) {
  triplane_sample(planes.view(), n, pts, pts_stride, out, ldo);
}

}  // namespace s3d
