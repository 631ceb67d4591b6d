// Deformation-field math shared by the CPU engine (model/deformation_field.cc)
// and the CUDA renderer (cuda/deformation_field.cu): the audio code folded into
// e1's bias once per frame (the code is the same for every point).
#pragma once
#include "core/host_device.h"

namespace s3d {

// e1.bias[o] + e1.weight[o, pe+cm:] . code for one output o, given that row's A
// code columns: the code term summed first, in double, then the bias, as
// Linear computes W x + b.
S3D_HD inline float fold_code_row(const float* code_weights, const float* code, int A, float bias) {
  double s = 0.0;
  for (int k = 0; k < A; ++k)
    s = S3D_DADD(s, S3D_DMUL(static_cast<double>(code_weights[k]), static_cast<double>(code[k])));
  return static_cast<float>(S3D_DADD(s, static_cast<double>(bias)));
}

}  // namespace s3d
