#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) and runs
# each for SECONDS (default 180), one after another, then prints executions,
# coverage and findings per target.
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]    e.g. scripts/fuzz.sh 60 fuzz_json
#   scripts/fuzz.sh --regress                 only replay seeds + tests/fuzz/regressions
#
# Needs clang++ with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev).
# Outputs under build/fuzz/: obj/ (instrumented engine objects), bin/, seeds/
# (scripts/fuzz-seeds.mjs), corpus/<target>/ (grows across runs),
# artifacts/<target>/ (crashers), logs/<target>.log.
# A crasher is a bug: fix it in cpp/, then copy it to
# tests/fuzz/regressions/<target>/ so every later run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

CXX=${CXX:-clang++}
JOBS=${S3D_BUILD_JOBS:-2}
SECONDS_PER_TARGET=180
REGRESS=0
TARGETS=()
for a in "$@"; do
  case "$a" in
    --regress) REGRESS=1 ;;
    [0-9]*) SECONDS_PER_TARGET=$a ;;
    *) TARGETS+=("$a") ;;
  esac
done
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(fuzz_json fuzz_model_config fuzz_safetensors)

command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install clang libclang-rt-14-dev)"; exit 2; }

OUT=build/fuzz
mkdir -p "$OUT/obj" "$OUT/bin" "$OUT/logs"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CXXFLAGS="-std=c++17 -O1 -g -Icpp -Itests/fuzz $SAN"

# Engine objects (everything but the Node-API glue), rebuilt when the source is newer.
SRCS=$(ls cpp/core/*.cc cpp/kernels/*.cc cpp/audio/*.cc cpp/model/*.cc)
build_obj() {
  local src=$1 obj="$OUT/obj/$(echo "$1" | tr / _ | sed 's/\.cc$/.o/')"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find cpp -name '*.h' -newer "$obj" -print -quit)" ]; then
    echo "[cc] $src"
    $CXX $CXXFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
}
export -f build_obj; export CXX CXXFLAGS OUT
echo "$SRCS" | xargs -P "$JOBS" -I{} bash -c 'build_obj {}'
OBJS=$(for s in $SRCS; do echo "$OUT/obj/$(echo "$s" | tr / _ | sed 's/\.cc$/.o/')"; done)

for t in "${TARGETS[@]}"; do
  echo "[ld] $t"
  $CXX $CXXFLAGS -fsanitize=fuzzer "tests/fuzz/$t.cc" $OBJS -o "$OUT/bin/$t" -pthread
done

rm -rf "$OUT/seeds"
# The seeds read headers with the package's reader (lib/safetensors.js, from ts/).
[ -f lib/safetensors.js ] || npm run build:ts >/dev/null
node scripts/fuzz-seeds.mjs "$OUT/seeds" >/dev/null

status=0
summary=""
for t in "${TARGETS[@]}"; do
  mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
  dict=()
  [ "$t" != fuzz_safetensors ] && dict=(-dict=tests/fuzz/json.dict)
  log="$OUT/logs/$t.log"
  if [ "$REGRESS" = 1 ]; then
    # Replay every seed (fixtures + committed regressions) once.
    if "$OUT/bin/$t" -rss_limit_mb=2048 -timeout=20 "$OUT/seeds/$t"/* >"$log" 2>&1; then r=ok; else r=FAIL; status=1; fi
    summary+="$t: replayed $(ls "$OUT/seeds/$t" | wc -l) inputs: $r"$'\n'
    continue
  fi
  echo "[fuzz] $t for ${SECONDS_PER_TARGET}s (log: $log)"
  set +e
  ASAN_OPTIONS=detect_leaks=1 "$OUT/bin/$t" "$OUT/corpus/$t" "$OUT/seeds/$t" "${dict[@]}" \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 \
    -max_len=262144 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
  corpus=$(ls "$OUT/corpus/$t" | wc -l)
  crashes=$(ls "$OUT/artifacts/$t" | wc -l)
  [ $rc -ne 0 ] && status=1
  summary+="$t: ${execs} execs in ${SECONDS_PER_TARGET}s, ${cov:-cov ?}, corpus ${corpus}, artifacts ${crashes}, exit ${rc}"$'\n'
done
echo
printf '%s' "$summary"
exit $status
