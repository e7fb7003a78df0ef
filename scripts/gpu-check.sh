#!/usr/bin/env bash
# One command for the lent GPU machine: build with CUDA, run every test (GPU tests enabled),
# run compute-sanitizer on the GPU test binaries, run the quick benchmark suite, and leave
# at most a handful of files under $OUT (the device tool returns 8 files at most):
#   summary.txt  logs.tar.gz  results.tar.gz (every JSON/CSV result: bench-<suite>.json,
#   bench-attn-*.json, bench-sdpa.json, autotune-*.json, bench-e2e.json, ncu summaries)
# The last thing printed is a short summary table (the tool returns only the output's tail).
#
# Environment (all optional):
#   OUT                     where results go (default ./gpu-out)
#   KLAB_GPU_CHECK_ONLY     steps to run, any of tests,sanitizer,bench,attn,sdpa,autotune,e2e,
#                           probes,profile separated by , or | (default: tests,sanitizer,bench,attn,sdpa,
#                           autotune; the build always runs). attn: the issue's attention shapes
#                           (decode 1..32 x 4096/16384, prefill 8192); sdpa: PyTorch's SDPA on
#                           the same shapes (scripts/bench_sdpa.py); autotune: write a cache in
#                           a scratch dir, bench the quick suite with it, check the targets;
#                           e2e: `klab bench e2e --quick`; profile: scripts/profile-decode.sh
#                           (the real model) and scripts/profile-e2e.sh (Llama-2-7B shape, Q4_0);
#                           probes: the stream floor of the decode GEMVs' sizes and the decode
#                           attention's launch floor (scripts/probes/, standalone)
#   KLAB_MODEL              the real model (GGUF) for e2e/profile (default: the fetched one)
#   KLAB_TEST_FILTER        ctest -R regex for the test step (and the sanitizer binaries)
#   KLAB_RACECHECK=1        also run compute-sanitizer --tool racecheck
#   KLAB_SANITIZER_GTEST    gtest filter for sanitizer runs (default: all tests of a binary)
#   KLAB_SANITIZER_TIMEOUT  seconds per binary (or shard) and tool (default 180)
#   KLAB_SANITIZER_SHARDS   gtest shards per binary, run side by side (default 1; racecheck of
#                           the GEMV, fused decode and QKV binaries needs ~4-8 within 180 s)
#   KLAB_BENCH_SUITE        quick (default) or full
#   KLAB_BENCH_ARGS         extra arguments for `klab bench`
#   KLAB_BUILD_DIR          default /tmp/klab-build;  KLAB_JOBS default 16
#   KLAB_CUDA_ARCH          default 90a
#   KLAB_BUILD_TIMEOUT, KLAB_TEST_TIMEOUT, KLAB_BENCH_TIMEOUT
#                           seconds for the build / ctest / bench steps (0 = no limit, the
#                           default); keeps the summary coming inside the device tool's limit
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/gpu-out}"
build="${KLAB_BUILD_DIR:-/tmp/klab-build}"
jobs="${KLAB_JOBS:-16}"
arch="${KLAB_CUDA_ARCH:-90a}"
only="${KLAB_GPU_CHECK_ONLY:-tests,sanitizer,bench,attn,sdpa,autotune}"
model="${KLAB_MODEL:-$HOME/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
suite="${KLAB_BENCH_SUITE:-quick}"
sanitizer_timeout="${KLAB_SANITIZER_TIMEOUT:-180}"
sanitizer_shards="${KLAB_SANITIZER_SHARDS:-1}"
limit() {  # limit SECONDS CMD...: runs CMD under timeout when SECONDS > 0
  local s="$1"
  shift
  if [ "${s:-0}" -gt 0 ]; then timeout "$s" "$@"; else "$@"; fi
}
mkdir -p "$out"
logs="$(mktemp -d /tmp/klab-gpu-logs.XXXXXX)"
results="$logs/results"
mkdir -p "$results"
summary="$out/summary.txt"
: >"$summary"
t_start=$SECONDS

want() { [[ "|${only//,/|}|" == *"|$1|"* ]]; }
note() { printf '%s\n' "$*" | tee -a "$summary"; }
row() { printf '%-26s %-8s %6ss  %s\n' "$1" "$2" "$3" "$4" >>"$logs/.rows"; }
: >"$logs/.rows"

finish() {
  tar -czf "$out/logs.tar.gz" -C "$logs" --exclude=.rows --exclude=results . 2>/dev/null
  # One archive for the results: the device tool brings back only a few files per call.
  tar -czf "$out/results.tar.gz" -C "$results" . 2>/dev/null
  {
    echo
    echo "== gpu-check summary ($((SECONDS - t_start))s total; logs in $out/logs.tar.gz) =="
    printf '%-26s %-8s %7s  %s\n' step status time detail
    cat "$logs/.rows"
  } | tee -a "$summary"
  [ -f "$logs/bench-table.txt" ] && tee -a "$summary" <"$logs/bench-table.txt"
  rm -rf "$logs"
}
trap finish EXIT

# ---- machine ---------------------------------------------------------------------------------
{
  date -u +%Y-%m-%dT%H:%M:%SZ
  uname -a
  grep -m1 "model name" /proc/cpuinfo
  nproc
  nvidia-smi 2>&1
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu \
    --format=csv 2>&1
  nvcc --version 2>&1
  cmake --version 2>&1 | head -1
} >"$logs/machine.txt" 2>&1
note "gpu-check: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"

# The commit, when the checkout has its .git (the device copy may not).
if [ -z "${KLAB_GIT_COMMIT:-}" ] && git -C "$root" rev-parse HEAD >/dev/null 2>&1; then
  KLAB_GIT_COMMIT="$(git -C "$root" rev-parse --short=12 HEAD)"
  export KLAB_GIT_COMMIT
fi

# ---- build -----------------------------------------------------------------------------------
t0=$SECONDS
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
targets=()
if ! want tests && ! want sanitizer; then targets=(--target klab_cli); fi
# The CUDA session test looks for the default model where scripts/fetch-model.sh puts it.
if [ -f "$model" ] && [ "$model" != "$HOME/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
  mkdir -p "$HOME/.local/share/klab/models"
  ln -sf "$model" "$HOME/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf"
fi
if cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" -DKLAB_BUILD_TESTS=ON >"$logs/configure.log" 2>&1 &&
  limit "${KLAB_BUILD_TIMEOUT:-0}" cmake --build "$build" -j "$jobs" "${targets[@]}" \
    >"$logs/build.log" 2>&1; then
  row build ok $((SECONDS - t0)) "CUDA arch $arch, $build"
else
  row build FAILED $((SECONDS - t0)) "see configure.log / build.log"
  echo "---- build failed; last lines ----"
  tail -n 40 "$logs/build.log" 2>/dev/null || tail -n 40 "$logs/configure.log"
  exit 1
fi
status=0

# ---- tests -----------------------------------------------------------------------------------
if want tests; then
  t0=$SECONDS
  filter=()
  [ -n "${KLAB_TEST_FILTER:-}" ] && filter=(-R "$KLAB_TEST_FILTER")
  (cd "$build" && limit "${KLAB_TEST_TIMEOUT:-0}" ctest --output-on-failure -j "$jobs" --timeout 600 "${filter[@]}" \
    --output-junit "$logs/ctest-junit.xml") >"$logs/ctest.log" 2>&1
  rc=$?
  line="$(grep -E 'tests passed|tests failed' "$logs/ctest.log" | tail -1)"
  skipped="$(grep -c '\*\*\*Skipped\|Not Run' "$logs/ctest.log")"
  row tests "$([ $rc -eq 0 ] && echo ok || echo FAILED)" $((SECONDS - t0)) "${line:-no result} ($skipped skipped)"
  if [ $rc -ne 0 ]; then
    status=1
    grep -E '^\s*[0-9]+ - ' "$logs/ctest.log" | head -20 >"$logs/failed-tests.txt"
    sed 's/^/  FAILED: /' "$logs/failed-tests.txt" >>"$logs/.rows"
  fi
fi

# ---- compute-sanitizer -----------------------------------------------------------------------
if want sanitizer; then
  tools=(memcheck)
  [ "${KLAB_RACECHECK:-0}" = 1 ] && tools+=(racecheck)
  mapfile -t bins < <(find "$build/tests" -maxdepth 1 -type f -executable -name 'test_cuda*' | sort)
  if [ -n "${KLAB_TEST_FILTER:-}" ]; then
    mapfile -t bins < <(printf '%s\n' "${bins[@]}" | grep -E "$KLAB_TEST_FILTER")
  fi
  if ! command -v compute-sanitizer >/dev/null 2>&1; then
    row sanitizer SKIPPED 0 "compute-sanitizer not on PATH"
  elif [ ${#bins[@]} -eq 0 ]; then
    row sanitizer SKIPPED 0 "no GPU test binaries"
  fi
  # The binaries run side by side (KLAB_SANITIZER_JOBS at once, default 12): one after another
  # they take longer than a device call may (seen on the H100: 25 binaries, 4-6 min in parallel).
  san_one() {  # san_one TOOL BIN SHARD -> "TOOL NAME RC" (NAME ends in .SHARD when sharded)
    local tool="$1" bin="$2" shard="$3" name gtest=(--gtest_brief=1) shards=()
    name="$(basename "$bin")"
    [ -n "${KLAB_SANITIZER_GTEST:-}" ] && gtest+=("--gtest_filter=$KLAB_SANITIZER_GTEST")
    if [ "$sanitizer_shards" -gt 1 ]; then
      name="$name.$shard"
      shards=(GTEST_TOTAL_SHARDS="$sanitizer_shards" GTEST_SHARD_INDEX="$shard")
    fi
    env "${shards[@]}" timeout "$sanitizer_timeout" compute-sanitizer --tool "$tool" \
      --error-exitcode 99 --print-limit 20 "$bin" "${gtest[@]}" \
      >"$logs/sanitizer-$tool-$name.log" 2>&1
    local rc=$?
    # A binary whose tests make no CUDA call (host-only plan tests, disabled perf tests) ends
    # before the tool instruments anything, and the tool exits 255: nothing to check, not a
    # failure (seen in session 21, c6), as long as its tests passed.
    if [ "$rc" = 255 ] &&
      grep -q "terminated before first instrumented API call" "$logs/sanitizer-$tool-$name.log" &&
      grep -q "^\[  PASSED  \]" "$logs/sanitizer-$tool-$name.log"; then
      rc=no-cuda
    fi
    echo "$tool $name $rc"
  }
  export -f san_one
  export logs sanitizer_timeout sanitizer_shards KLAB_SANITIZER_GTEST
  for tool in "${tools[@]}"; do
    command -v compute-sanitizer >/dev/null 2>&1 && [ ${#bins[@]} -gt 0 ] || break
    t0=$SECONDS
    mapfile -t verdicts < <(for b in "${bins[@]}"; do
      for ((i = 0; i < sanitizer_shards; ++i)); do echo "$b $i"; done
    done | xargs -P "${KLAB_SANITIZER_JOBS:-12}" -L 1 bash -c 'san_one "$0" "$1" "$2"' "$tool")
    bad=()
    idle=()
    for v in "${verdicts[@]}"; do
      read -r _ name rc <<<"$v"
      [ "$rc" = no-cuda ] && idle+=("$name")
      [ "$rc" != 0 ] && [ "$rc" != no-cuda ] && bad+=("$name(rc=$rc)")
    done
    if [ ${#bad[@]} -eq 0 ]; then
      row "sanitizer $tool" ok $((SECONDS - t0)) \
        "$((${#verdicts[@]} - ${#idle[@]})) runs clean, ${#idle[@]} without CUDA calls"
    else
      status=1
      row "sanitizer $tool" FAILED $((SECONDS - t0)) "${#bad[@]}/${#verdicts[@]}: ${bad[*]} (124 = timeout)"
    fi
  done
fi

# ---- benchmarks ------------------------------------------------------------------------------
if want bench; then
  t0=$SECONDS
  json="$results/bench-$suite.json"
  csv="$results/bench-$suite.csv"
  # shellcheck disable=SC2086
  limit "${KLAB_BENCH_TIMEOUT:-0}" "$build/bin/klab" bench --suite "$suite" --json "$json" --csv "$csv" ${KLAB_BENCH_ARGS:-} \
    >"$logs/bench-table.txt" 2> >(while IFS= read -r l; do printf '%4ds %s\n' $((SECONDS - t0)) "$l"; done \
    >"$logs/bench-progress.log")
  rc=$?
  detail="$(python3 - "$json" <<'EOF' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
c = d["cases"]
n = lambda f: sum(1 for x in c if f(x))
ceil = ", ".join(f'{k} {v["value"]:.0f} {v["unit"]}' for k, v in d["ceilings"].items()
                 if isinstance(v.get("value"), (int, float)))
print(f'{len(c)} cases: {n(lambda x: x["valid"] is True)} valid, '
      f'{n(lambda x: x["valid"] is False)} INVALID, {n(lambda x: bool(x["error"]))} errors, '
      f'{n(lambda x: x["skipped"])} skipped | {ceil}')
EOF
)"
  row "bench $suite" "$([ $rc -eq 0 ] && echo ok || echo FAILED)" $((SECONDS - t0)) "${detail:-no JSON written}"
  if [ $rc -ne 0 ]; then
    status=1
    tail -n 5 "$logs/bench-progress.log" | sed 's/^/  /' >>"$logs/.rows"
  fi
fi

# ---- extra measurement steps (each writes under $out) ----------------------------------------
step() {  # step NAME TIMEOUT CMD...: runs CMD with its output in logs/NAME.log, one summary row
  local name="$1" secs="$2"
  shift 2
  local t0=$SECONDS
  limit "$secs" "$@" >"$logs/$name.log" 2>&1
  local rc=$?
  row "$name" "$([ $rc -eq 0 ] && echo ok || echo "FAILED($rc)")" $((SECONDS - t0)) "$(tail -n 1 "$logs/$name.log" | cut -c1-90)"
  [ $rc -eq 0 ] || status=1
}
klab="$build/bin/klab"
if want attn; then
  step attn-decode 300 "$klab" bench decode-attn --batch 1,8,16,32 --len 4096,16384 \
    --layout contiguous,paged --json "$results/bench-attn-decode.json"
  step attn-prefill 300 "$klab" bench prefill-attn --len 8192 --causal 1,0 \
    --json "$results/bench-attn-prefill.json"
fi
if want sdpa; then
  step sdpa 300 python3 "$root/scripts/bench_sdpa.py" --out "$results/bench-sdpa.json"
fi
if want autotune; then
  cache="$(mktemp -d /tmp/klab-autotune.XXXXXX)"
  step autotune-write 400 env KLAB_CACHE_DIR="$cache" "$klab" autotune --quick --write-cache \
    --json "$results/autotune-write.json"
  step autotune-check 400 env KLAB_CACHE_DIR="$cache" "$klab" autotune --quick --check \
    --json "$results/autotune-check.json"
fi
if want e2e; then
  step e2e 550 "$klab" bench e2e --quick --json "$results/bench-e2e.json"
  if [ -f "$model" ]; then
    step generate-memcheck 300 compute-sanitizer --tool memcheck --error-exitcode 99 "$klab" generate \
      -m "$model" -p "The capital of France is" -n 16 --temp 0 --device cuda
  fi
fi
if want probes; then  # standalone probes of the card's floors (scripts/probes/*.cu)
  for probe in stream_floor decode_launch_floor; do
    step "probe-$probe" 300 bash -c "set -o pipefail; nvcc -O3 -std=c++20 -arch=sm_$arch \"$root/scripts/probes/$probe.cu\" \
      -o \"$build/$probe\" && \"$build/$probe\" | tee \"$results/probe-$probe.txt\""
  done
fi
if want profile && [ -f "$model" ]; then
  step profile 300 env OUT="$results" KLAB_BUILD_DIR="$build" KLAB_PROFILE_STEP_KERNELS="${KLAB_PROFILE_STEP_KERNELS:-0}" \
    bash "$root/scripts/profile-decode.sh" "$model"
fi
if want profile; then
  step profile-e2e 550 env OUT="$results" KLAB_BUILD_DIR="$build" bash "$root/scripts/profile-e2e.sh" llama2-7b q4_0
fi

exit $status
