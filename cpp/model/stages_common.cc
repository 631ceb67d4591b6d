#include <cstring>

#include "core/error.h"
#include "model/stages.h"

namespace s3d {

const Tensor& stage_input(const TensorMap& in, const std::string& name, const Shape& expected) {
  auto it = in.find(name);
  if (it == in.end()) throw Error(ErrorCode::InvalidArgument, "missing stage input \"" + name + "\"");
  if (it->second.shape != expected)
    throw Error(ErrorCode::InvalidArgument, "Expected shape " + shape_str(expected) + " for stage input \"" +
                                                name + "\" but received " + shape_str(it->second.shape));
  return it->second;
}

Tensor chw_to_hwc(const Tensor& t) {
  const int64_t c = t.dim(0), h = t.dim(1), w = t.dim(2);
  Tensor o = Tensor::empty({h, w, c});
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < h * w; ++i) o.data[i * c + k] = t.data[k * h * w + i];
  return o;
}

Tensor hwc_to_chw(const Tensor& t) {
  const int64_t h = t.dim(0), w = t.dim(1), c = t.dim(2);
  Tensor o = Tensor::empty({c, h, w});
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < h * w; ++i) o.data[k * h * w + i] = t.data[i * c + k];
  return o;
}

}  // namespace s3d
