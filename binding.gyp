{
  # CPU-only addon. Every cpp/**/*.cc is compiled in (scripts/list-sources.js);
  # the CUDA backend is a separate shared library (libs3d_cuda.so, cuda/plugin/,
  # `npm run build:cuda` or CMakeLists.txt) that cpp/backend/cuda_plugin_loader.cc
  # dlopens on demand: only its C ABI header (cuda/plugin/s3d_cuda_api.h, shipped for the source-build fallback) is
  # used here, so nothing needs nvcc and the addon links no CUDA library.
  #
  # s3d_static_runtime=1 (set by scripts/prebuild.js through S3D_STATIC_RUNTIME=1)
  # links libstdc++/libgcc statically and hides their symbols, so the prebuilt
  # binary in prebuilds/linux-x64/ needs only glibc (libc, libm, ld-linux). A
  # source build on the user's machine (the install fallback) links them
  # dynamically: that machine has the toolchain's libstdc++ anyway, and some
  # distributions do not install libstdc++.a.
  "variables": {
    "s3d_static_runtime%": "<!(node -p \"process.env.S3D_STATIC_RUNTIME === '1' ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "s3d_nerf",
      "sources": ["<!@(node scripts/list-sources.js)"],
      "include_dirs": [
        "cpp",
        "cuda/plugin",
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O2", "-O0"],
      "cflags": ["-O3", "-pthread", "-fvisibility=hidden"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O3", "-pthread", "-fvisibility=hidden"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-ldl"] }],
        ["OS=='linux' and s3d_static_runtime==1", {
          "ldflags": ["-static-libstdc++", "-static-libgcc", "-Wl,--exclude-libs,ALL"]
        }]
      ],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/O2"] }
      }
    }
  ]
}
