#!/usr/bin/env bash
# Compiles cuda/plugin/check_decls.cc against the REAL cuBLAS and cuDNN headers:
# static_asserts compare every function signature (decltype) and enum value the
# plugin declares itself (cuda/plugin/cublas_decl.h, cudnn_decl.h), so a wrong
# declaration fails here, at build time, not in a render. Needs the headers,
# e.g. from PyTorch's pip wheels (site-packages/nvidia/{cublas,cudnn}/include),
# and the CUDA runtime headers (nvcc's toolkit). Usage:
#   scripts/check-cuda-decls.sh            (finds the headers; exit 1 when missing)
#   scripts/check-cuda-decls.sh --if-found (exit 0 with a note when missing)
# Env: S3D_CUBLAS_INCLUDE, S3D_CUDNN_INCLUDE, CUDA_PATH, S3D_PYTHON_SITE, CXX.
set -euo pipefail
cd "$(dirname "$0")/.."
if_found=0
[ "${1:-}" = "--if-found" ] && if_found=1

cuda="${CUDA_PATH:-/usr/local/cuda}"
sites=()
if [ -n "${S3D_PYTHON_SITE:-}" ]; then IFS=: read -r -a sites <<<"$S3D_PYTHON_SITE"; fi
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1; then
    while IFS= read -r s; do [ -n "$s" ] && sites+=("$s"); done < <("$py" -c 'import site,sys; print("\n".join(site.getsitepackages()+[site.getusersitepackages()]))' 2>/dev/null || true)
  fi
done
sites+=(/usr/lib/python3*/dist-packages /usr/local/lib/python3*/site-packages /usr/local/lib/python3*/dist-packages "$HOME"/.local/lib/python3*/site-packages)

find_header() { # $1 header file, $2 env override, rest: candidate dirs
  local h="$1" override="$2"; shift 2
  if [ -n "$override" ] && [ -f "$override/$h" ]; then echo "$override"; return; fi
  for d in "$@"; do [ -f "$d/$h" ] && { echo "$d"; return; }; done
  for s in "${sites[@]}"; do for d in "$s"/nvidia/*/include; do [ -f "$d/$h" ] && { echo "$d"; return; }; done; done
  true
}
cublas_inc="$(find_header cublas_v2.h "${S3D_CUBLAS_INCLUDE:-}" "$cuda/include" /usr/include)"
cudnn_inc="$(find_header cudnn.h "${S3D_CUDNN_INCLUDE:-}" "$cuda/include" /usr/include)"
cudart_inc="$(find_header cuda_runtime_api.h "" "$cuda/include")"

missing=()
[ -z "$cublas_inc" ] && missing+=("cublas_v2.h (set S3D_CUBLAS_INCLUDE)")
[ -z "$cudnn_inc" ] && missing+=("cudnn.h (set S3D_CUDNN_INCLUDE)")
[ -z "$cudart_inc" ] && missing+=("cuda_runtime_api.h (set CUDA_PATH)")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "check-cuda-decls: headers not found: ${missing[*]}" >&2
  [ "$if_found" = 1 ] && { echo "check-cuda-decls: skipped" >&2; exit 0; }
  exit 1
fi
echo "check-cuda-decls: cuBLAS $cublas_inc, cuDNN $cudnn_inc, cudart $cudart_inc" >&2
"${CXX:-g++}" -std=c++17 -fsyntax-only -Wall -Icuda/plugin -I"$cudart_inc" -I"$cublas_inc" -I"$cudnn_inc" cuda/plugin/check_decls.cc
echo "check-cuda-decls: ok (every declaration matches the real headers)" >&2
