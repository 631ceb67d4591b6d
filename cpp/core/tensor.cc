#include "core/tensor.h"

#include "core/error.h"

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace s3d {

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

void check_shape(const Tensor& t, const Shape& s, const char* what) {
  if (t.shape != s)
    throw Error(ErrorCode::Internal,
                std::string("Expected shape ") + shape_str(s) + " for " + what + " but received " + shape_str(t.shape));
}

Tensor Tensor::empty(Shape shape) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("negative dimension in " + shape_str(shape));
  Tensor t;
  t.shape = std::move(shape);
  size_t bytes = static_cast<size_t>(t.numel()) * sizeof(float);
  bytes = (bytes + 63) / 64 * 64;
  if (bytes == 0) bytes = 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  t.storage = std::shared_ptr<float>(static_cast<float*>(p), [](float* q) { std::free(q); });
  t.data = t.storage.get();
  return t;
}

Tensor Tensor::zeros(Shape shape) {
  Tensor t = empty(std::move(shape));
  std::memset(t.data, 0, static_cast<size_t>(t.numel()) * sizeof(float));
  return t;
}

Tensor Tensor::wrap(float* data, Shape shape, std::shared_ptr<void> keep_alive) {
  Tensor t;
  t.shape = std::move(shape);
  t.storage = std::shared_ptr<float>(keep_alive, data);  // aliasing constructor
  t.data = data;
  return t;
}

Tensor Tensor::reshaped(Shape new_shape) const {
  if (shape_numel(new_shape) != numel())
    throw std::invalid_argument("cannot reshape " + shape_str(shape) + " to " + shape_str(new_shape));
  Tensor t = *this;
  t.shape = std::move(new_shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape);
  std::memcpy(t.data, data, static_cast<size_t>(numel()) * sizeof(float));
  return t;
}

}  // namespace s3d
