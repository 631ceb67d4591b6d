// Camera math shared by the CPU engine (model/camera.h, which wraps it in Mat4)
// and the CUDA renderer (cuda/nerf_renderer.cu): one copy of the ray frame and
// of the ray direction of a pixel. Matrices are row-major 4x4 float[16]
// cam2world poses in OpenCV axes (DESIGN §2; train/s3d_nerf/camera.py).
//
// The matrix functions run once per frame, on the host in both backends;
// ray_direction runs per ray, so it is __host__ __device__ (core/host_device.h).
#pragma once
#include <cmath>
#include <utility>

#include "core/host_device.h"

namespace s3d {

// c = a * b (c must not alias a or b).
inline void mat4_mul(const float* a, const float* b, float* c) {
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      float s = 0.f;
      for (int k = 0; k < 4; ++k) s += a[i * 4 + k] * b[k * 4 + j];
      c[i * 4 + j] = s;
    }
}

enum class Mat4Inverse { Ok, NonFinite, Singular };

// General inverse: Gauss-Jordan with partial pivoting in double (the pose
// inverse feeds every ray, so it is worth the extra precision), rounded to float.
// `out` is written only when the result is Ok.
inline Mat4Inverse mat4_inverse(const float* mf, float* out) {
  double a[4][8];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      if (!std::isfinite(mf[i * 4 + j])) return Mat4Inverse::NonFinite;
      a[i][j] = mf[i * 4 + j];
      a[i][4 + j] = i == j ? 1.0 : 0.0;
    }
  for (int c = 0; c < 4; ++c) {
    int p = c;
    for (int r = c + 1; r < 4; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[p][c])) p = r;
    if (std::fabs(a[p][c]) < 1e-12) return Mat4Inverse::Singular;
    if (p != c)
      for (int j = 0; j < 8; ++j) std::swap(a[p][j], a[c][j]);
    const double inv = 1.0 / a[c][c];
    for (int j = 0; j < 8; ++j) a[c][j] *= inv;
    for (int r = 0; r < 4; ++r) {
      if (r == c) continue;
      const double f = a[r][c];
      if (f != 0.0)
        for (int j = 0; j < 8; ++j) a[r][j] -= f * a[c][j];
    }
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) out[i * 4 + j] = static_cast<float>(a[i][4 + j]);
  return Mat4Inverse::Ok;
}

// The camera in front of the head looking down -z at the origin.
inline void frontal_pose(float radius, float* out) {
  const float f[16] = {1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, radius, 0, 0, 0, 1};
  for (int i = 0; i < 16; ++i) out[i] = f[i];
}

// M = F * inv(P_src) * P_tar: target camera -> source frame (the frame of the
// image-aligned tri-planes). Ray origin = M[:3, 3], the same for every ray.
inline Mat4Inverse ray_transform(const float* pose_tar, const float* pose_src, float radius, float* out) {
  float inv[16], front[16], a[16];
  const Mat4Inverse r = mat4_inverse(pose_src, inv);
  if (r != Mat4Inverse::Ok) return r;
  frontal_pose(radius, front);
  mat4_mul(front, inv, a);
  mat4_mul(a, pose_tar, out);
  return Mat4Inverse::Ok;
}

// Unit ray direction (3) of pixel (row, col) in the source frame given M from
// ray_transform: normalize(M[:3,:3] d_cam), d_cam = ((u-.5)/f, (v-.5)/f, 1),
// u = (col + .5)/res, v = (row + .5)/res: the float operations of camera.py.
S3D_HD inline void ray_direction(const float* m, int row, int col, int res, float focal, float* dir) {
  const float u = S3D_DIV(S3D_ADD(static_cast<float>(col), 0.5f), static_cast<float>(res));
  const float v = S3D_DIV(S3D_ADD(static_cast<float>(row), 0.5f), static_cast<float>(res));
  const float d0 = S3D_DIV(S3D_SUB(u, 0.5f), focal), d1 = S3D_DIV(S3D_SUB(v, 0.5f), focal);
  float r[3];
  for (int i = 0; i < 3; ++i)  // d_cam z = 1: its term is m[i][2] itself
    r[i] = S3D_ADD(S3D_ADD(S3D_MUL(d0, m[i * 4 + 0]), S3D_MUL(d1, m[i * 4 + 1])), m[i * 4 + 2]);
  const float n = sqrtf(S3D_ADD(S3D_ADD(S3D_MUL(r[0], r[0]), S3D_MUL(r[1], r[1])), S3D_MUL(r[2], r[2])));
  for (int i = 0; i < 3; ++i) dir[i] = S3D_DIV(r[i], n);
}

}  // namespace s3d
