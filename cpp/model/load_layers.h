// Fetch a layer's tensors from the model file (shape-checked) and pack them
// for the kernels, once at load time.
#pragma once
#include <string>

#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "model/weights.h"

namespace s3d {

// PyTorch Conv2d "<name>.weight" (cout, cin, k, k) + "<name>.bias" (cout).
Conv2d load_conv2d(const Weights& w, const std::string& name, int cout, int cin, int k, int stride);

}  // namespace s3d
