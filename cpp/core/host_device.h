// Math that the CPU engine and the CUDA kernels (cuda/) share: one copy, compiled
// by g++ for the CPU and by nvcc for both sides. Headers that hold such code
// (model/camera_math.h, model/volume_render_math.h, kernels/bilinear_math.h)
// take plain pointers, ints and floats: no std:: containers, no exceptions.
#pragma once

// Marks a function callable from host and device code; empty for the host compiler.
#ifdef __CUDACC__
#define S3D_HD __host__ __device__
#else
#define S3D_HD
#endif

// IEEE operations rounded on their own. On the device the _rn intrinsics, which
// nvcc never contracts into an FMA (the CPU references have none), so the GPU
// rounds as the CPU does. On the host the plain operators: the macros expand to
// the very expression the CPU code had, so what a host compiler may contract
// in it stays as it was.
#ifdef __CUDA_ARCH__
#define S3D_ADD(a, b) __fadd_rn((a), (b))
#define S3D_SUB(a, b) __fsub_rn((a), (b))
#define S3D_MUL(a, b) __fmul_rn((a), (b))
#define S3D_DIV(a, b) __fdiv_rn((a), (b))
#define S3D_DADD(a, b) __dadd_rn((a), (b))
#define S3D_DMUL(a, b) __dmul_rn((a), (b))
#else
#define S3D_ADD(a, b) ((a) + (b))
#define S3D_SUB(a, b) ((a) - (b))
#define S3D_MUL(a, b) ((a) * (b))
#define S3D_DIV(a, b) ((a) / (b))
#define S3D_DADD(a, b) ((a) + (b))
#define S3D_DMUL(a, b) ((a) * (b))
#endif
