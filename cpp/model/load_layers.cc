#include "model/load_layers.h"

namespace s3d {

Conv2d load_conv2d(const Weights& w, const std::string& name, int cout, int cin, int k, int stride) {
  const Tensor& wt = w.get(name + ".weight", {cout, cin, k, k});
  const Tensor& b = w.get(name + ".bias", {cout});
  return pack_conv2d(wt.data, b.data, cout, cin, k, stride);
}

}  // namespace s3d
