// A half-open pixel rectangle [x0, x1) x [y0, y1): the part of a frame that a
// windowed render computes (the mouth hole with sr_paste_source; DESIGN §8).
#pragma once
#include <algorithm>

namespace s3d {

struct PixelBox {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;

  bool empty() const { return x1 <= x0 || y1 <= y0; }
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
  bool operator==(const PixelBox& o) const { return x0 == o.x0 && y0 == o.y0 && x1 == o.x1 && y1 == o.y1; }

  // This box on a grid `factor` times coarser, grown by `margin` cells and clipped
  // to [0, size): the coarse cells whose receptive field covers it. Empty stays empty.
  PixelBox coarser(int factor, int margin, int size) const {
    if (empty()) return {};
    return {std::max(0, x0 / factor - margin), std::max(0, y0 / factor - margin),
            std::min(size, (x1 + factor - 1) / factor + margin), std::min(size, (y1 + factor - 1) / factor + margin)};
  }
};

}  // namespace s3d
