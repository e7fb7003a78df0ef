#!/usr/bin/env bash
# session 7 call 3 (H100): rmsnorm_to_half launched with PDL (the O GEMV -> FFN norm boundary
# and, at B > 8 / dense, the QKV norm were fully serialized). Tests: glue (pdl on/off), the
# GEMV -> norm -> GEMV PDL chain + prefetch checks, engine session, batch decode; memcheck +
# racecheck of the chain; e2e A/B with KLAB_CUDA_NORM_PDL=0.
# Prediction (before the run): 7B Q4_0 B=1 +1.5-3%, F16 B=1 +2-4%, B=16 +2-3%, Q8_0 ~0.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res3; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_model_glue_pdl_test test_cuda_model_glue_test test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab; P=$B/tests/test_cuda_model_glue_pdl_test
run() { timeout 300 "$@" > $R/$(basename $1).log 2>&1; echo "$(basename $1) rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$(basename $1).log | tr '\n' ' ')"; }
export -f run; export R
printf '%s\n' "$P" "$B/tests/test_cuda_model_glue_test" "$B/tests/test_cuda_model_cuda_session_test" "$B/tests/test_cuda_model_batch_decode_test" | xargs -P 4 -L 1 bash -c 'run $0 $@'
grep -hE "^\[  FAILED" $R/*.log | head
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 99 $P > $R/san-memcheck.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck.log)"
timeout 120 compute-sanitizer --tool racecheck --error-exitcode 99 $P --gtest_filter='NormPdl*' > $R/san-racecheck.log 2>&1; echo "racecheck rc $? $(grep 'RACECHECK SUMMARY' $R/san-racecheck.log)"
e2e() {  # name norm_pdl args...
  local n=$1 v=$2; shift 2
  KLAB_CUDA_NORM_PDL=$v timeout 60 $K bench e2e --prompt 0 "$@" --json $R/e2e-$n-np$v.json > $R/e2e-$n-np$v.txt 2>&1
  echo "$n norm_pdl $v: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n-np$v.txt | head -3 | tr '\n' ' ') ($((SECONDS-t0))s)"
}
Q4="--model llama2-7b --weights q4_0 --ctx 512"
e2e 7b-q4-a 0 $Q4 --batch 1,16; e2e 7b-q4-a 1 $Q4 --batch 1,16
e2e 7b-q4-b 0 $Q4 --batch 1,16; e2e 7b-q4-b 1 $Q4 --batch 1,16
for v in 0 1; do
  e2e 8b-q4 $v --model llama3-8b --weights q4_0 --batch 1 --ctx 512
  e2e 7b-q8 $v --model llama2-7b --weights q8_0 --batch 1 --ctx 512
  e2e 7b-f16 $v --model llama2-7b --weights f16 --batch 1 --ctx 512
done
tar -czf $OUT/res3.tgz -C $R .
echo "total $((SECONDS-t0))s"
