#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ (clang, ASan + UBSan) and runs each one for a while.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 600 seconds each, every target in turn
#
# Targets: gguf, tokenizer_gguf, safetensors, tokenizer_json, hf_config (fuzz/fuzz_<name>.cpp).
# Seeds come from real files (fuzz/make_seeds.py: test fixtures, and the metadata of the default
# model when $KLAB_MODEL or the fetched model exists) plus the committed reproducers of past
# crashes in fuzz/seeds/<target>/. The corpus grows in $BUILD/corpus/<target>; a crash, leak or
# hang (-timeout) stops the target and leaves its input in $BUILD/artifacts/<target>/.
# Environment: BUILD (default build-fuzz), JOBS (build parallelism, default 2), CXX (clang++),
# FUZZ_NICE (default 19), FUZZ_RSS_MB (default 2048).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-600}"
shift || true
build="${BUILD:-$root/build-fuzz}"
all_targets=(gguf tokenizer_gguf safetensors tokenizer_json hf_config)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")

CXX="${CXX:-clang++}" cmake -S "$root/fuzz" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]/#/fuzz_}"

model="${KLAB_MODEL:-${XDG_DATA_HOME:-$HOME/.local/share}/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
seeds="$build/seeds"
if [[ ! -d "$seeds" ]]; then
  if [[ -f "$model" ]]; then
    python3 "$root/fuzz/make_seeds.py" "$seeds" "$model"
  else
    python3 "$root/fuzz/make_seeds.py" "$seeds"
  fi
fi

status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$corpus" "$artifacts" "$seeds/$t"
  extra=()
  [[ -d "$root/fuzz/seeds/$t" ]] && extra+=("$root/fuzz/seeds/$t")
  echo "== fuzz_$t: ${seconds}s"
  if ASAN_OPTIONS=detect_leaks=1 nice -n "${FUZZ_NICE:-19}" "$build/fuzz_$t" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
      -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$corpus" "$seeds/$t" "${extra[@]}" >"$build/fuzz_$t.log" 2>&1; then
    echo "   ok: $(grep -E 'stat::number_of_executed_units' "$build/fuzz_$t.log" | awk '{print $2}') execs, no crash"
  else
    status=1
    echo "   FAILED: see $build/fuzz_$t.log and $artifacts/"
    grep -E 'ERROR|SUMMARY|Test unit written' "$build/fuzz_$t.log" | head -5 || true
  fi
done
exit "$status"
