// Cameras and rays (DESIGN §2; mirrors train/s3d_nerf/camera.py). Poses are
// row-major 4x4 cam2world matrices in OpenCV axes (EG3D convention). The math
// is model/camera_math.h, shared with the CUDA renderer; these are its Mat4 forms.
#pragma once
#include <array>

namespace s3d {

using Mat4 = std::array<float, 16>;  // same alias as model/engine.h

Mat4 mat4_identity();
Mat4 mat4_mul(const Mat4& a, const Mat4& b);  // a * b
// General inverse (Gauss-Jordan with partial pivoting in double, rounded to float).
// Throws Error(InvalidArgument) when the matrix is singular or not finite.
Mat4 mat4_inverse(const Mat4& m);
// Inverse of [R t; 0 1] with R orthonormal: [R^T, -R^T t; 0 1].
Mat4 mat4_rigid_inverse(const Mat4& m);

// The camera in front of the head looking down -z at the origin.
Mat4 frontal_pose(float radius);
// A = F * inv(P_src): maps the source camera's view onto the frontal frame
// (the frame of the image-aligned tri-planes).
Mat4 source_transform(const Mat4& pose_src, float radius);

// M = A * P_tar: target camera -> source frame. Ray origin = M[:3, 3] (same
// for every ray).
Mat4 ray_transform(const Mat4& pose_tar, const Mat4& pose_src, float radius);

// Unit ray direction of pixel (row, col) in the source frame given M from
// ray_transform: normalize(M[:3,:3] * d_cam), d_cam = ((u-.5)/f, (v-.5)/f, 1),
// u = (col + .5)/res, v = (row + .5)/res.
void ray_direction(const Mat4& m, int row, int col, int res, float focal, float dir[3]);

// All rays, pixel index = row*res + col: origin[3] and dirs[res*res*3].
void make_rays(const Mat4& pose_tar, const Mat4& pose_src, int res, float focal, float radius,
               float origin[3], float* dirs);

}  // namespace s3d
