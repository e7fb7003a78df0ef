# Helpers the per-call device scripts share, so each script holds only its experiment. Source
# it from a script run at the repository root of the device's copy of the work tree:
#   . scripts/device-runs/lib.sh
#   dr_start c1                  # unpack .carry/snap.tgz to /tmp/snap, cd there, R=/tmp/c1
#   dr_start_carried c1 commit-new   # instead of dr_start where the binaries were built on the
#                                # dev machine and carried (xz): R, B, t0, libraries, commit
#   dr_unxz klab-new.xz /tmp/klab-new   # a carried binary, unpacked and executable
#   dr_build klab_cli test_...   # configure /tmp/klab-build and build these targets (-j16)
#   dr_test fused test_cuda_fused_decode_fused_decode_test 120 [gtest args...]
#   dr_test_sharded gemv test_cuda_gemv_gemv_q_test 12 100
#                                # N gtest shards at once (the references run on the CPU:
#                                # the GEMV binary takes 190 s whole, ~50 s as 12 shards, s22)
#   dr_ctest_gpu 16 575          # ctest -L gpu in $B, 16 jobs, until 575 s after dr_start
#   dr_sanitize racecheck decode "$bin" 480 filters.txt   # one compute-sanitizer process a
#                                # line of filters.txt (a gtest filter), in the background;
#                                # `wait`, then dr_sanitize_summary racecheck decode
#   dr_build_old klab_cli        # build .carry/snap-old.tgz (the previous commit) into
#                                # /tmp/klab-build-old in the background; `wait` for it, then
#                                # OLD is its klab binary
#   dr_ab b1 --variant X decode-attn --batch 1   # klab bench ARGS, old then new, two rounds
#                                # (DR_AB_SIDES="old:$OLD A:binA B:binB" for other sides)
#   dr_e2e_ab 7b-q4_0 -1 --model llama2-7b --weights q4_0 --batch 1   # dr_e2e old then new
#   dr_e2e 7b-q4 --model llama2-7b --weights q4_0 --batch 1   # DR_KLAB=$OLD for the old binary,
#                                # DR_CTX=4096 for another context (default 512)
#   dr_issue_tables              # dr_attn_tables (the issue-4 attention shapes, PyTorch's
#                                # SDPA) then dr_e2e_matrices (the issue-8 e2e matrices:
#                                # Llama-2-7B Q4_0/Q8_0/F16, Llama-3-8B Q4_0)
#   dr_bench o --variant mma_wide_pdl gemv --M 16 --N 4096 --K 4096   # any klab bench suite
#   dr_ncu qkv gemv_mma_staged --variant mma_staged_pdl gemv --M 1 --N 12288 --K 4096
#                                # ncu source counters of one launch; stalls by SASS instruction
#   dr_real_model               # /tmp/m.a + /tmp/m.b + .carry/model.c (the real model, carried
#                                # in thirds by earlier warm calls) as /tmp/m.gguf, linked where
#                                # `--model default` finds it
#   dr_real_model_checks         # its engine tests, memcheck on 16 tokens, `klab generate` with
#                                # and without CUDA graphs, `klab bench e2e --model default`
#   dr_timeline 7b-q4_0 q4_0 llama2-7b   # CUPTI kernel timeline of a B=1 ctx-512 decode step
#   dr_pack                      # $R packed as $OUT/c1.tgz now: call it after each part, so
#                                # a call cut by its time limit still returns what ran (s22 c3
#                                # lost every file that way)
#   dr_finish                    # dr_pack and the total time
# Variables set for the script: R (results), B (build dir), K (the klab binary), t0, DR_ROOT
# (the work tree with .carry/); OLD after dr_build_old.
# shellcheck shell=bash

dr_start() {  # NAME
  export KLAB_GIT_COMMIT
  KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
  DR_NAME=$1
  DR_ROOT=$PWD  # the device's copy of the work tree, where .carry/ is
  rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap || return 1
  cd /tmp/snap || return 1
  R=/tmp/$DR_NAME
  rm -rf "$R" && mkdir -p "$R"
  B=/tmp/klab-build
  K=$B/bin/klab
  t0=$SECONDS
  nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
}

dr_start_carried() {  # NAME [COMMIT_FILE]: a call that runs binaries built on the dev machine and
  # carried (no snapshot, no build): R=/tmp/NAME, t0, the CUDA and CUPTI libraries on
  # LD_LIBRARY_PATH, KLAB_GIT_COMMIT from .carry/COMMIT_FILE (default: commit); B=/tmp/NAME-build
  # for dr_test's tests/ (dr_unxz them there)
  DR_NAME=$1
  DR_ROOT=$PWD
  R=/tmp/$DR_NAME
  rm -rf "$R" && mkdir -p "$R"
  B=/tmp/$DR_NAME-build
  mkdir -p "$B/tests"
  t0=$SECONDS
  export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
  export KLAB_GIT_COMMIT
  KLAB_GIT_COMMIT=$(cat ".carry/${2:-commit}" 2>/dev/null || echo unknown)
  nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
}

dr_unxz() {  # CARRIED DEST: .carry/CARRIED (an xz'd binary) unpacked to DEST, executable
  xz -dc ".carry/$1" > "$2" && chmod +x "$2"
}

dr_build() {  # TARGET... (none: everything)
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90a > "$R/cmake.log" 2>&1
  cmake --build "$B" -j16 "${targets[@]}" > "$R/build.log" 2>&1
  echo "build rc $? in $((SECONDS - t0))s"
  grep -E "error|warning" "$R/build.log" | head -10
}

dr_test() {  # NAME BINARY TIMEOUT [ARGS...]
  local name=$1 bin=$2 limit=$3
  shift 3
  timeout "$limit" "$B/tests/$bin" "$@" > "$R/$name.log" 2>&1
  echo "$name rc $? $(grep -E '^\[  (PASSED|FAILED) ' "$R/$name.log" | tr '\n' ' ')($((SECONDS - t0))s)"
  grep -E "^\[  FAILED  \]|Failure|exception" "$R/$name.log" | head -8
}

dr_gtest_counts() {  # LOG...: "N ok, M failed" over gtest logs
  echo "$(cat "$@" | grep -cE '^\[       OK \]') ok, $(cat "$@" | grep -cE '^\[  FAILED  \].*\(') failed"
}

dr_test_sharded() {  # NAME BINARY SHARDS TIMEOUT: one log a shard, one summary line
  local name=$1 bin=$2 n=$3 limit=$4 i
  for ((i = 0; i < n; i++)); do
    GTEST_TOTAL_SHARDS=$n GTEST_SHARD_INDEX=$i timeout "$limit" "$B/tests/$bin" \
      > "$R/$name.$i.log" 2>&1 &
  done
  wait
  echo "$name: $(dr_gtest_counts "$R/$name".*.log) ($((SECONDS - t0))s)"
  grep -hE "^\[  FAILED  \].*\(|Failure$|exception" "$R/$name".*.log | head -6
}

dr_ctest_gpu() {  # JOBS UNTIL: every GPU test (ctest -L gpu), cut UNTIL s after dr_start
  local left=$(($2 - (SECONDS - t0)))
  (cd "$B" && timeout "$left" ctest -L gpu -j"$1" --timeout 300 --output-on-failure \
    > "$R/ctest.log" 2>&1)
  echo "ctest rc $? $(grep -E 'tests passed|tests failed' "$R/ctest.log") ($((SECONDS - t0))s)"
  echo "skipped: $(grep -c '\*\*\*Skipped' "$R/ctest.log")"
  grep -E "\*\*\*Failed|\*\*\*Timeout|Exception" "$R/ctest.log" | head -10
}

dr_sanitize() {  # TOOL NAME BINARY LIMIT FILTERS: one compute-sanitizer process a line of the
  # file FILTERS (a gtest filter), all in the background; `wait`, then dr_sanitize_summary
  local tool=$1 name=$2 bin=$3 limit=$4 filters=$5 i=0 f
  while IFS= read -r f; do
    timeout "$limit" compute-sanitizer --tool "$tool" --error-exitcode 99 --print-limit 20 \
      "$bin" --gtest_filter="$f" > "$R/$tool-$name.$i.log" 2>&1 &
    i=$((i + 1))
  done < "$filters"
}

dr_sanitize_summary() {  # TOOL NAME: tests finished, the tool's summaries, where cut ones stopped
  local logs=("$R/$1-$2".*.log) f
  echo "$1 $2: $(dr_gtest_counts "${logs[@]}")," \
    "$(grep -l '^\[  PASSED  \]' "${logs[@]}" | wc -l) / ${#logs[@]} processes finished"
  grep -h "SUMMARY" "${logs[@]}" | sort | uniq -c
  for f in "${logs[@]}"; do
    grep -q '^\[  PASSED  \]' "$f" || echo "  cut: $(basename "$f"): $(grep -E '^\[ RUN' "$f" | tail -1)"
  done
}

dr_build_old() {  # TARGET...: background build of .carry/snap-old.tgz; sets OLD
  local targets=() t
  for t in "$@"; do targets+=(--target "$t"); done
  OLD=/tmp/klab-build-old/bin/klab
  (rm -rf /tmp/snap-old && mkdir -p /tmp/snap-old &&
    tar -xzf "$DR_ROOT/.carry/snap-old.tgz" -C /tmp/snap-old &&
    cmake -S /tmp/snap-old -B /tmp/klab-build-old -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > "$R/cmake-old.log" 2>&1 &&
    cmake --build /tmp/klab-build-old -j16 "${targets[@]}" > "$R/build-old.log" 2>&1
    echo "old build rc $? ($((SECONDS - t0))s)") &
}

dr_ab() {  # NAME ARGS...: klab bench ARGS on each side, two rounds. Sides: DR_AB_SIDES, entries
  # SIDE:BINARY in run order; by default "old:$OLD new:$K" (old then new).
  local name=$1 i entry side bin
  shift
  for i in 1 2; do
    for entry in ${DR_AB_SIDES:-old:$OLD new:$K}; do
      side=${entry%%:*}
      bin=${entry#*:}
      timeout 100 "$bin" bench "$@" --json "$R/bench-$name-$side-$i.json" \
        > "$R/bench-$name-$side-$i.txt" 2>&1
      echo "$name $side $i: $(grep -h '^bench: .*\[' "$R/bench-$name-$side-$i.txt" |
        sed -E 's/.*\[(.*)\] +([0-9.]+) us.*/\1 \2/' | tr '\n' ';')"
    done
  done
}

dr_e2e_ab() {  # BASE TAIL ARGS...: dr_e2e BASE-oldTAIL on $OLD, then BASE-newTAIL on $K
  local base=$1 tail=$2
  shift 2
  DR_KLAB=$OLD dr_e2e "$base-old$tail" "$@"
  DR_KLAB=$K dr_e2e "$base-new$tail" "$@"
}

dr_issue_tables() {  # the issues' tables: attention (4), SDPA beside it, e2e matrices (8)
  dr_attn_tables
  dr_pack
  dr_e2e_matrices
}

dr_attn_tables() {  # issue 4's shapes: decode-attn, prefill-attn, PyTorch's SDPA beside them
  timeout 100 "$K" bench decode-attn --batch 1,8,16,32 --len 4096,16384 \
    --layout contiguous,paged --json "$R/attn-decode.json" > "$R/attn-decode.txt" 2>&1
  echo "decode-attn rc $? ($((SECONDS - t0))s)"
  grep -h "^bench: .*\[" "$R/attn-decode.txt" | grep -E "cluster_(spec|s2) " | cut -c1-110
  timeout 60 "$K" bench prefill-attn --len 8192 --causal 1,0 --json "$R/attn-prefill.json" \
    > "$R/attn-prefill.txt" 2>&1
  echo "prefill-attn rc $? ($((SECONDS - t0))s)"
  grep -h "^bench: .*\[" "$R/attn-prefill.txt" | grep tma | cut -c1-110
  timeout 90 python3 scripts/bench_sdpa.py --out "$R/sdpa.json" > "$R/sdpa.txt" 2>&1
  echo "sdpa rc $? ($((SECONDS - t0))s)"
}

dr_e2e_matrices() {  # issue 8's e2e matrices: Llama-2-7B Q4_0 / Q8_0 / F16, Llama-3-8B Q4_0
  timeout 150 "$K" bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1,4,16 \
    --ctx 512,4096 --prompt 512 --json "$R/e2e-llama2-7b.json" > "$R/e2e-llama2-7b.txt" 2>&1
  echo "e2e 7b rc $? ($((SECONDS - t0))s)"
  timeout 100 "$K" bench e2e --model llama3-8b --weights q4_0 --batch 1,4,16 --ctx 512,4096 \
    --prompt 512 --json "$R/e2e-llama3-8b.json" > "$R/e2e-llama3-8b.txt" 2>&1
  echo "e2e 8b rc $? ($((SECONDS - t0))s)"
  grep -hE "^bench: e2e.*tokens/s" "$R"/e2e-llama*.txt | cut -c1-110
}

dr_e2e() {  # NAME ARGS... (klab bench e2e, no prompt unless ARGS say otherwise, at ctx
  # DR_CTX or 512: klab refuses a second --ctx, so ARGS cannot carry one)
  local name=$1
  shift
  timeout 100 "${DR_KLAB:-$K}" bench e2e --prompt 0 --ctx "${DR_CTX:-512}" "$@" --json "$R/e2e-$name.json" \
    > "$R/e2e-$name.txt" 2>&1
  echo "$name: $(grep -hoE '[0-9.,]+ tokens/s' "$R/e2e-$name.txt" | tr '\n' ' ')($((SECONDS - t0))s)"
}

dr_bench() {  # NAME ARGS... (klab bench ARGS; JSON and text under $R, one line a case printed)
  local name=$1
  shift
  timeout 120 "$K" bench "$@" --json "$R/bench-$name.json" > "$R/bench-$name.txt" 2>&1
  echo "$name rc $? ($((SECONDS - t0))s)"
  grep -h "^bench: .*\[" "$R/bench-$name.txt" | cut -c1-120
}

dr_ncu() {  # NAME KERNEL_REGEX ARGS... (klab bench ARGS; one launch after 20, --set full)
  local name=$1 kernel=$2
  shift 2
  timeout 150 ncu --clock-control none -k "regex:$kernel" --launch-skip 20 --launch-count 1 \
    --set full --import-source yes --warp-sampling-interval 0 -o "$R/ncu-$name" "$K" bench \
    --no-validate --seconds 0.05 "$@" > "$R/ncu-$name.log" 2>&1
  echo "== ncu $name rc $? ($((SECONDS - t0))s)"
  ncu -i "$R/ncu-$name.ncu-rep" --page details > "$R/ncu-$name-details.txt" 2>&1
  grep -E "Duration|DRAM Throughput|Issue Slots Busy|Eligible Warps|No Eligible|Registers Per|L1/TEX Hit|L2 Hit|Grid Size|Block Size|Waves Per SM|Achieved Occupancy" \
    "$R/ncu-$name-details.txt" | head -16 | cut -c1-110
  ncu -i "$R/ncu-$name.ncu-rep" --page source --csv --print-source sass \
    > "$R/ncu-$name-sass.csv" 2> "$R/ncu-$name-sass.err"
  python3 scripts/ncu_stalls.py "$R/ncu-$name-sass.csv" --top 8 2>&1 | cut -c1-140 | head -20
  rm -f "$R/ncu-$name.ncu-rep"
}

dr_pack() {
  tar -czf "${OUT:-/tmp}/$DR_NAME.tgz" -C "$R" .
}

dr_finish() {
  dr_pack
  echo "total $((SECONDS - t0))s"
}

dr_real_model() {  # the real model's thirds as /tmp/m.gguf, where `--model default` finds it
  cat /tmp/m.a /tmp/m.b "$DR_ROOT/.carry/model.c" > /tmp/m.gguf || return 1
  mkdir -p ~/.local/share/klab/models
  ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
  sha256sum /tmp/m.gguf | cut -c1-16
}

dr_real_model_checks() {  # engine tests, memcheck, generate with / without graphs, e2e default
  local g
  dr_test realmodel test_cuda_model_cuda_session_test 150 --gtest_filter='*RealModel*'
  timeout 90 compute-sanitizer --tool memcheck --error-exitcode 99 "$K" generate -m /tmp/m.gguf \
    -p "The capital of France is" -n 16 --temp 0 --device cuda > "$R/generate-memcheck.log" 2>&1
  echo "generate memcheck rc $? $(grep 'ERROR SUMMARY' "$R/generate-memcheck.log")"
  for g in 1 0; do
    KLAB_CUDA_GRAPHS=$g timeout 60 "$K" generate -m /tmp/m.gguf -p "Once upon a time" -n 256 \
      --temp 0 --device cuda > "$R/generate-graphs$g.txt" 2>&1
    echo "graphs=$g: $(tail -1 "$R/generate-graphs$g.txt" | cut -c1-150)"
  done
  timeout 60 "$K" bench e2e --model default --batch 1,16 --ctx 512 --prompt 512 \
    --json "$R/e2e-default.json" > "$R/e2e-default.txt" 2>&1
  echo "e2e default rc $? ($((SECONDS - t0))s)"
  grep -hE "^bench: e2e.*tokens/s" "$R"/e2e-default.txt | cut -c1-140
}

dr_timeline() {  # NAME WEIGHTS MODEL: the kernel timeline of a B=1 ctx-512 decode step
  timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model "$3" --weights "$2" --batch 1 \
    --timeline "$R/tl-$1" --json "$R/e2e-tl-$1.json" > "$R/tl-$1.txt" 2>&1
  echo "timeline $1: $(grep -hE 'timeline .*a step' "$R/tl-$1.txt" | cut -c1-120)"
  grep -E "^  " "$R/tl-$1.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -9
}
