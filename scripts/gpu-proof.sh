#!/usr/bin/env bash
# The one command to run on a lent GPU machine (device tool; runs in the repo
# root): builds the CUDA parity tests for sm_90 (+ compute_90 PTX), runs
# test_nerf_cuda (tiny + random s3d-64; fp32, tensor cores, fp16 planes),
# compute-sanitizer memcheck and racecheck on the tiny case, and a SASS check.
# Everything goes to $OUT/gpu-proof.log, a table to $OUT/summary.md.
# Budget: ~1-2 min build, well under a minute of tests, a few minutes of
# sanitizers; each step has its own timeout so the whole stays < ~8 min.
set -u
OUT="${OUT:-$PWD/gpu-proof-out}"
mkdir -p "$OUT"
LOG="$OUT/gpu-proof.log"
SUM="$OUT/summary.md"
: >"$LOG"
BUILD="${BUILD_DIR:-build-gpu-proof}"
say() { echo "$*" | tee -a "$LOG"; }
declare -a ROWS=()
row() { ROWS+=("| $1 | $2 | $3 |"); }

# step NAME TIMEOUT CMD...: runs CMD with its output in the log, records rc.
step() {
  local name="$1" limit="$2"
  shift 2
  say ""
  say "=== $name: $* (timeout ${limit}s)"
  local t0=$SECONDS
  timeout "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  say "=== $name: rc=$rc in $((SECONDS - t0)) s"
  return $rc
}

say "gpu-proof $(date -u +%FT%TZ) on $(hostname)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv >>"$LOG" 2>&1
NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
say "nvcc: $NVCC ($("$NVCC" --version | tail -1))"
SAN="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
CUOBJDUMP="$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)"

# cuBLAS / cuDNN from the pip wheels (for the later conv/SR kernels; logged only).
python3 - >>"$LOG" 2>&1 <<'EOF' || true
import importlib, os
for m in ("nvidia.cublas", "nvidia.cudnn"):
    try:
        mod = importlib.import_module(m)
        d = list(mod.__path__)[0]
        libs = sorted(f for f in os.listdir(os.path.join(d, "lib")) if f.endswith(tuple(".so." + str(i) for i in range(20))))
        print(f"{m}: {d}/lib {libs[:6]}")
    except Exception as e:  # noqa: BLE001
        print(f"{m}: not found ({e})")
EOF

GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if step configure 120 cmake -S . -B "$BUILD" "${GEN[@]}" -DS3D_WITH_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_CUDA_FLAGS="-Xptxas -v"; then
  row configure ok "CMake, sm_90 + compute_90 PTX"
else
  row configure FAIL "see log"
fi
if step build 300 cmake --build "$BUILD" --target test_nerf_cuda -j "$(nproc)"; then
  row build ok "test_nerf_cuda"
else
  row build FAIL "see log"
fi
BIN="$BUILD/test_nerf_cuda"

if [ -x "$BIN" ]; then
  # SASS: the tensor-core instantiations must contain HMMA.
  "$CUOBJDUMP" -sass "$BIN" >"$OUT/sass.txt" 2>&1 || true
  say "SASS: $(grep -c HMMA "$OUT/sass.txt") HMMA, $(grep -c -E '\bLDL|\bSTL' "$OUT/sass.txt") LDL/STL lines"

  for c in tiny s3d64; do
    step "test $c" 180 "$BIN" --case "$c" --mode all --reps 20
    rc=$?
    while IFS= read -r l; do
      st=$(echo "$l" | awk '{print $1}')
      rest=$(echo "$l" | sed -E 's/^ *(ok|FAIL) +//')
      row "test $c" "$st" "$rest"
    done < <(grep -E "^  (ok|FAIL) " "$LOG" | grep -E "^  (ok|FAIL) +$( [ "$c" = tiny ] && echo 'tiny' || echo 's3d-64')")
    [ $rc -eq 77 ] && row "test $c" SKIP "no GPU"
    [ $rc -ne 0 ] && [ $rc -ne 77 ] && row "test $c" "FAIL rc=$rc" "see log"
  done

  if [ -n "$SAN" ]; then
    if step memcheck 240 "$SAN" --tool memcheck --leak-check full --error-exitcode 3 "$BIN" --case tiny --quick; then
      row memcheck ok "tiny, all modes"
    else
      row memcheck FAIL "rc=$? see log"
    fi
    if step racecheck 240 "$SAN" --tool racecheck --racecheck-report all --error-exitcode 3 "$BIN" --case tiny --quick; then
      row racecheck ok "tiny, all modes (shared-memory hazards)"
    else
      row racecheck FAIL "rc=$? see log"
    fi
  else
    row sanitizer SKIP "compute-sanitizer not found"
  fi
fi

{
  echo "# gpu-proof $(date -u +%FT%TZ)"
  echo
  echo "device: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
  echo
  echo "| step | result | detail |"
  echo "|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} >"$SUM"
cat "$SUM"
