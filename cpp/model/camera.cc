#include "model/camera.h"

#include <cmath>

#include "core/error.h"

namespace s3d {

Mat4 mat4_identity() {
  Mat4 m{};
  m[0] = m[5] = m[10] = m[15] = 1.f;
  return m;
}

Mat4 mat4_mul(const Mat4& a, const Mat4& b) {
  Mat4 c{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      float s = 0.f;
      for (int k = 0; k < 4; ++k) s += a[i * 4 + k] * b[k * 4 + j];
      c[i * 4 + j] = s;
    }
  return c;
}

Mat4 mat4_inverse(const Mat4& mf) {
  // Gauss-Jordan with partial pivoting in double: the pose inverse feeds
  // every ray, so it is worth the extra precision.
  double a[4][8];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      if (!std::isfinite(mf[i * 4 + j]))
        throw Error(ErrorCode::InvalidArgument, "Expected a finite pose matrix but received a non-finite value");
      a[i][j] = mf[i * 4 + j];
      a[i][4 + j] = i == j ? 1.0 : 0.0;
    }
  for (int c = 0; c < 4; ++c) {
    int p = c;
    for (int r = c + 1; r < 4; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[p][c])) p = r;
    if (std::fabs(a[p][c]) < 1e-12)
      throw Error(ErrorCode::InvalidArgument, "Expected an invertible pose matrix but received a singular one");
    if (p != c)
      for (int j = 0; j < 8; ++j) std::swap(a[p][j], a[c][j]);
    double inv = 1.0 / a[c][c];
    for (int j = 0; j < 8; ++j) a[c][j] *= inv;
    for (int r = 0; r < 4; ++r) {
      if (r == c) continue;
      double f = a[r][c];
      if (f != 0.0)
        for (int j = 0; j < 8; ++j) a[r][j] -= f * a[c][j];
    }
  }
  Mat4 o;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) o[i * 4 + j] = static_cast<float>(a[i][4 + j]);
  return o;
}

Mat4 mat4_rigid_inverse(const Mat4& m) {
  Mat4 o{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) o[i * 4 + j] = m[j * 4 + i];
  for (int i = 0; i < 3; ++i)
    o[i * 4 + 3] = -(o[i * 4 + 0] * m[3] + o[i * 4 + 1] * m[7] + o[i * 4 + 2] * m[11]);
  o[15] = 1.f;
  return o;
}

Mat4 frontal_pose(float radius) {
  return Mat4{1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, radius, 0, 0, 0, 1};
}

Mat4 source_transform(const Mat4& pose_src, float radius) {
  return mat4_mul(frontal_pose(radius), mat4_inverse(pose_src));
}

Mat4 ray_transform(const Mat4& pose_tar, const Mat4& pose_src, float radius) {
  return mat4_mul(source_transform(pose_src, radius), pose_tar);
}

void ray_direction(const Mat4& m, int row, int col, int res, float focal, float dir[3]) {
  // Same float operations as camera.py: c = (i + 0.5) / res; d = (c - 0.5) / focal.
  const float u = (static_cast<float>(col) + 0.5f) / static_cast<float>(res);
  const float v = (static_cast<float>(row) + 0.5f) / static_cast<float>(res);
  const float d[3] = {(u - 0.5f) / focal, (v - 0.5f) / focal, 1.f};
  float r[3];
  for (int i = 0; i < 3; ++i) r[i] = d[0] * m[i * 4 + 0] + d[1] * m[i * 4 + 1] + d[2] * m[i * 4 + 2];
  const float n = std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
  for (int i = 0; i < 3; ++i) dir[i] = r[i] / n;
}

void make_rays(const Mat4& pose_tar, const Mat4& pose_src, int res, float focal, float radius,
               float origin[3], float* dirs) {
  const Mat4 m = ray_transform(pose_tar, pose_src, radius);
  origin[0] = m[3];
  origin[1] = m[7];
  origin[2] = m[11];
  for (int row = 0; row < res; ++row)
    for (int col = 0; col < res; ++col) ray_direction(m, row, col, res, focal, dirs + (row * res + col) * 3);
}

}  // namespace s3d
