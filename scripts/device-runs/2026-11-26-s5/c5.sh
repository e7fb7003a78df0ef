#!/usr/bin/env bash
# session 5 call 5 (same warm machine as c4): the real model (session tests: CPU == CUDA, fused
# staged default == the unfused chain, greedy), memcheck of a short generation, `klab generate`
# speed, and the Nsight Compute breakdown of the 7B Q4_0 / Q8_0 step with the staged blocks.
set -uo pipefail
test -f /tmp/m.a || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models && ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
B=/tmp/klab-build; K=$B/bin/klab; cd /tmp/snap; t0=$SECONDS
R=/tmp/res5; rm -rf $R; mkdir -p $R
timeout 150 $B/tests/test_cuda_model_cuda_session_test --gtest_brief=1 --gtest_filter='*RealModel*' > $R/realmodel.log 2>&1; echo "realmodel rc $? at $((SECONDS-t0))s"; grep -E "^\[  (PASSED|FAILED)|worst|Failure" $R/realmodel.log | head -8
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 99 $K generate -m /tmp/m.gguf -p "The capital of France is" -n 16 --temp 0 --device cuda > $R/generate-memcheck.log 2>&1; echo "generate memcheck rc $? $(grep 'ERROR SUMMARY' $R/generate-memcheck.log)"
for f in default 0; do if [ $f = default ]; then unset KLAB_CUDA_FUSED; else export KLAB_CUDA_FUSED=0; fi; $K generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160; done; unset KLAB_CUDA_FUSED
for w in q4_0 q8_0; do
  KLAB_PROFILE_COUNT=300 OUT=$R timeout 100 bash scripts/profile-e2e.sh llama2-7b $w > $R/profile-$w.txt 2>&1; echo "profile $w rc $? at $((SECONDS-t0))s"; head -12 $R/profile-$w.txt | cut -c1-190
  mv $R/ncu-e2e-summary.txt $R/ncu-e2e-summary-$w.txt; rm -f $R/ncu-e2e.csv
done
tar -czf $OUT/res5.tgz -C $R .
echo "total $((SECONDS-t0))s"
