#!/usr/bin/env bash
# Memory-error and leak check of the engine (issue 7).
#  1. Builds the standalone C++ tests of tests/native/ against an ASan + LSan +
#     UBSan build of the engine (cpp/core, kernels, audio, model) and runs them:
#     any leak, overflow or use-after-free fails the run.
#  2. Runs the plain build of test_core (npm run test:native builds it) under
#     valgrind --leak-check=full (definite/indirect leaks and errors fail).
#  3. With --node: runs a small Node script (load, encode, render, dispose, and
#     a session dropped without dispose) under valgrind, reporting leaks whose
#     stack goes through the addon (slow: a few minutes).
#
#   scripts/leak-check.sh [--node] [TEST ...]      e.g. scripts/leak-check.sh test_core test_audio
# Outputs: build/leak-check/{obj,bin,logs}. CXX (default g++) must support -fsanitize.
set -euo pipefail
cd "$(dirname "$0")/.."

CXX=${CXX:-g++}
JOBS=${S3D_BUILD_JOBS:-2}
NODE_CHECK=0
TESTS=()
for a in "$@"; do
  case "$a" in
    --node) NODE_CHECK=1 ;;
    *) TESTS+=("$(basename "$a" .cc)") ;;
  esac
done
[ ${#TESTS[@]} -eq 0 ] && TESTS=(test_core test_audio test_modules_conv test_nerf test_kernels)

OUT=build/leak-check
mkdir -p "$OUT/obj" "$OUT/bin" "$OUT/logs"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CXXFLAGS="-std=c++17 -O1 -g -pthread -Icpp $SAN"

SRCS=$(ls cpp/core/*.cc cpp/kernels/*.cc cpp/audio/*.cc cpp/model/*.cc)
build_obj() {
  local src=$1 obj="$OUT/obj/$(echo "$1" | tr / _ | sed 's/\.cc$/.o/')"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find cpp -name '*.h' -newer "$obj" -print -quit)" ]; then
    echo "[cc] $src"
    $CXX $CXXFLAGS -c "$src" -o "$obj"
  fi
}
export -f build_obj; export CXX CXXFLAGS OUT
echo "$SRCS" | xargs -P "$JOBS" -I{} bash -c 'build_obj {}'
OBJS=$(for s in $SRCS; do echo "$OUT/obj/$(echo "$s" | tr / _ | sed 's/\.cc$/.o/')"; done)

status=0
summary=""
for t in "${TESTS[@]}"; do
  echo "[ld] $t"
  $CXX $CXXFLAGS "tests/native/$t.cc" $OBJS -o "$OUT/bin/$t"
  echo "[asan] $t (log: $OUT/logs/$t.asan.log)"
  start=$(date +%s)
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1 \
     UBSAN_OPTIONS=print_stacktrace=1 "$OUT/bin/$t" >"$OUT/logs/$t.asan.log" 2>&1; then
    summary+="asan+lsan $t: clean ($(( $(date +%s) - start )) s)"$'\n'
  else
    status=1
    summary+="asan+lsan $t: FAILED (see $OUT/logs/$t.asan.log)"$'\n'
    grep -E "ERROR: (Address|Leak)Sanitizer|runtime error|SUMMARY" "$OUT/logs/$t.asan.log" | head -5 || true
  fi
done

if command -v valgrind >/dev/null; then
  node scripts/test-native.mjs test_core >/dev/null 2>&1 || node scripts/test-native.mjs test_core
  echo "[valgrind] test_core (log: $OUT/logs/test_core.valgrind.log)"
  if valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
       --error-exitcode=1 build/native-tests/test_core >"$OUT/logs/test_core.valgrind.log" 2>&1; then
    vg_errors=$(grep -E 'ERROR SUMMARY' "$OUT/logs/test_core.valgrind.log" | sed 's/^==[0-9]*== //' || true)
    vg_heap=$(grep -E 'definitely lost|All heap blocks were freed' "$OUT/logs/test_core.valgrind.log" | sed 's/^==[0-9]*== *//' || true)
    summary+="valgrind test_core: ${vg_errors}; ${vg_heap}"$'\n'
  else
    status=1
    summary+="valgrind test_core: FAILED (see $OUT/logs/test_core.valgrind.log)"$'\n'
  fi

  if [ "$NODE_CHECK" = 1 ]; then
    echo "[valgrind] node tests/fuzz/leak-node.mjs (slow; log: $OUT/logs/node.valgrind.log)"
    valgrind --leak-check=full --show-leak-kinds=definite --num-callers=30 \
      node --expose-gc tests/fuzz/leak-node.mjs >"$OUT/logs/node.valgrind.log" 2>&1 || true
    # V8 and libuv keep global allocations at exit; only leaks through the addon count.
    addon=$(awk '/definitely lost in/{blk=$0; keep=0; next} blk && /s3d_nerf\.node|s3d::/{keep=1} blk && /^==[0-9]+== $/{if (keep) print blk; blk=""; keep=0}' "$OUT/logs/node.valgrind.log" | wc -l)
    grep -q "leak-node: ok" "$OUT/logs/node.valgrind.log" || { status=1; echo "node script did not finish under valgrind"; }
    summary+="valgrind node (addon): ${addon} definite leak record(s) through s3d_nerf.node; $(grep -E 'ERROR SUMMARY' "$OUT/logs/node.valgrind.log" | sed 's/^==[0-9]*== //' || true)"$'\n'
    [ "$addon" -eq 0 ] || status=1
  fi
else
  summary+="valgrind: not installed, skipped"$'\n'
fi

echo
printf '%s' "$summary"
exit $status
