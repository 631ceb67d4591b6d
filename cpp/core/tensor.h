// Dense fp32 tensor with 64-byte aligned, shared storage.
// Layout is whatever the owner says it is; stages document theirs
// (activations inside the engine are channel-last, fixtures are PyTorch NCHW).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace s3d {

using Shape = std::vector<int64_t>;

inline int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s);  // "[2, 3, 4]"

// Throws Error(Internal) "Expected shape [..] for <what> but received [..]":
// for engine-internal tensors whose shape a caller got wrong (a bug, not bad input).
struct Tensor;
void check_shape(const Tensor& t, const Shape& s, const char* what);

struct Tensor {
  Shape shape;
  std::shared_ptr<float> storage;  // owns (or keeps alive) the memory
  float* data = nullptr;

  int64_t numel() const { return shape_numel(shape); }
  int64_t dim(int i) const { return shape[i < 0 ? shape.size() + i : i]; }
  bool defined() const { return data != nullptr; }

  static Tensor empty(Shape shape);  // uninitialised, 64-byte aligned
  static Tensor zeros(Shape shape);
  // Non-owning view of external memory (keep_alive may hold its owner).
  static Tensor wrap(float* data, Shape shape, std::shared_ptr<void> keep_alive = nullptr);
  Tensor reshaped(Shape new_shape) const;  // same storage, numel must match
  Tensor clone() const;
};

using TensorMap = std::map<std::string, Tensor>;

}  // namespace s3d
