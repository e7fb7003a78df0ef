#!/usr/bin/env bash
# session 13 call 4 (H100): the F16 O projection two rows a warp (GemvParams::spread at one
# token: gemv_dense_vec16_copy_row2_kernel, 512 blocks). Why: in the s12 c2 F16 timeline the O
# GEMV (1,024 blocks of a row a warp, 8 an SM by registers) ends ~14.8 us after the attention
# for 11.2 us of bytes: on the 128 SMs the attention's CTAs hold, only 5 of its blocks fit, so a
# third of the grid waits for a second wave. At 512 blocks it is one wave beside them.
# Prediction: O advance ~14.3 -> ~11.5-12 us a layer, 7B F16 B=1 +1.5-2% (~197 -> ~200 tok/s,
# ~88% of the bound); B=4 unchanged (one token only). KLAB_CUDA_DENSE_ROWS=1 is the old shape.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc4; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_dense_test test_cuda_attn_decode_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 100 $B/tests/test_cuda_gemv_gemv_dense_test > $R/dense.log 2>&1; echo "dense rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/dense.log | tr '\n' ' ') ($((SECONDS-t0))s)"
grep -E "^\[  FAILED  \]|Failure" $R/dense.log | head -5
timeout 120 compute-sanitizer --tool racecheck --error-exitcode 99 $B/tests/test_cuda_attn_decode_decode_test --gtest_filter='*cluster_s2_f16_d128_g4_page16:*cluster_spec_bf16_d128_g1_contig:*cluster_w8_f16_d64_g8_contig:*cluster_s2_bf16_d128_g1_page17' > $R/san-racecheck-attn.log 2>&1; echo "racecheck attn rc $? $(grep -E 'RACECHECK SUMMARY|PASSED' $R/san-racecheck-attn.log | tr '\n' ' ') ($((SECONDS-t0))s)"
e2e() {  # name args...
  local n=$1; shift
  timeout 100 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n.json > $R/e2e-$n.txt 2>&1
  echo "$n: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for rep in 1 2 3; do
  KLAB_CUDA_DENSE_ROWS=1 e2e f16-rows1-$rep --model llama2-7b --weights f16 --batch 1
  e2e f16-rows2-$rep --model llama2-7b --weights f16 --batch 1
done
e2e f16-rows2-b4 --model llama2-7b --weights f16 --batch 4
for m in 1 2; do
  if [ $m = 1 ]; then export KLAB_CUDA_DENSE_ROWS=1; else unset KLAB_CUDA_DENSE_ROWS; fi
  timeout 100 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights f16 --batch 1 --timeline $R/tl-f16-rows$m > $R/tl-f16-rows$m.txt 2>&1
  grep -hE "timeline .*a step" $R/tl-f16-rows$m.txt | cut -c1-160; grep -E "^  " $R/tl-f16-rows$m.txt | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -8
done
tar -czf $OUT/resc4.tgz -C $R .
echo "total $((SECONDS-t0))s"
