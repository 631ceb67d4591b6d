#include "model/camera.h"

#include "core/error.h"
#include "model/camera_math.h"

namespace s3d {

Mat4 mat4_identity() {
  Mat4 m{};
  m[0] = m[5] = m[10] = m[15] = 1.f;
  return m;
}

Mat4 mat4_mul(const Mat4& a, const Mat4& b) {
  Mat4 c;
  mat4_mul(a.data(), b.data(), c.data());
  return c;
}

namespace {

void check_inverse(Mat4Inverse r) {
  if (r == Mat4Inverse::NonFinite)
    throw Error(ErrorCode::InvalidArgument, "Expected a finite pose matrix but received a non-finite value");
  if (r == Mat4Inverse::Singular)
    throw Error(ErrorCode::InvalidArgument, "Expected an invertible pose matrix but received a singular one");
}

}  // namespace

Mat4 mat4_inverse(const Mat4& m) {
  Mat4 o;
  check_inverse(mat4_inverse(m.data(), o.data()));
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
  Mat4 f;
  frontal_pose(radius, f.data());
  return f;
}

Mat4 source_transform(const Mat4& pose_src, float radius) {
  return mat4_mul(frontal_pose(radius), mat4_inverse(pose_src));
}

Mat4 ray_transform(const Mat4& pose_tar, const Mat4& pose_src, float radius) {
  Mat4 m;
  check_inverse(ray_transform(pose_tar.data(), pose_src.data(), radius, m.data()));
  return m;
}

void ray_direction(const Mat4& m, int row, int col, int res, float focal, float dir[3]) {
  ray_direction(m.data(), row, col, res, focal, dir);
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
