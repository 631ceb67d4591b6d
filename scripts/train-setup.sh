#!/usr/bin/env bash
# One-command training setup (npm run train:setup): installs every Debian package the
# training pipeline needs, builds the landmark tool, and checks that PyTorch runs on
# OpenBLAS (not the reference netlib BLAS, 2.3x slower) and oneDNN.
# Needs root or sudo for apt. Idempotent: re-running installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PKGS=(
  python3-torch python3-torchaudio   # the reference model and trainer (/usr/bin/python3)
  libopenblas0-openmp                # switches libblas.so.3 to OpenBLAS: the trainer's matmuls
  python3-opencv python3-scipy       # prepare_data.py (warps, mask polygons, smoothing, pose fit)
  libdlib-dev libdlib-data           # tools/landmarks68 (68-point predictor + its model)
  libblas-dev liblapack-dev          # link deps of libdlib-dev
  pkg-config g++                     # building tools/landmarks68
  ffmpeg                             # decoding the training clips
  python3-pytest                     # train/tests
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "all ${#PKGS[@]} Debian packages present"
fi

if [ ! -x tools/landmarks68/landmarks68 ]; then
  sh tools/landmarks68/build.sh
fi

# torch must see OpenBLAS and oneDNN (mkldnn); fail loudly otherwise.
/usr/bin/python3 - <<'PY'
import os, re, sys, time
import torch
blas = "unknown"
try:
    maps = open(f"/proc/{os.getpid()}/maps").read()
    libs = set(re.findall(r"/\S*lib(?:openblas|blas)\S*\.so[\.\d]*", maps))
    real = {os.path.realpath(p) for p in libs}
    blas = ", ".join(sorted(real)) or "none mapped"
except OSError:
    pass
ok_blas = "openblas" in blas
ok_dnn = torch.backends.mkldnn.is_available()
a = torch.randn(1024, 1024)
t = time.time()
for _ in range(10):
    a @ a
gf = 10 * 2 * 1024 ** 3 / (time.time() - t) / 1e9
print(f"torch {torch.__version__}: BLAS {blas}; oneDNN {'yes' if ok_dnn else 'NO'}; "
      f"sgemm 1024^2 {gf:.0f} GFLOP/s on {torch.get_num_threads()} threads")
if not ok_blas:
    sys.exit("error: torch is not using OpenBLAS (libopenblas0-openmp should switch libblas.so.3)")
if not ok_dnn:
    sys.exit("error: torch has no oneDNN (mkldnn) backend")
PY
echo "training setup OK"
