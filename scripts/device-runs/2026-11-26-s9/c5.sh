#!/usr/bin/env bash
# session 9 call 5 (H100): mma_wide_staged v3: K split over a cluster of up to 4 CTAs where x
# does not fit one block (7B down, K = 11008: 3 slices; 8B down, K = 14336: 4), their tile sums
# added by CTA 0 through distributed shared memory; `auto` takes it for SwiGLU and K slices only
# (c4: QKV + O slower than mma_wide's 3-tile rows). Predictions (H100, 7B Q4_0 B = 16, per layer
# in the graph): down 30.4 -> 13-16 us, gate/up 33.8 -> ~31.7; step 4.56 -> ~4.05-4.15 ms, i.e.
# 3,470 -> 3,850-3,950 tok/s (7.7-7.9x the 502 of batch 1); 8B Q4_0 B=16 +8-12%.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc5; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
run() { timeout 280 "$@" > $R/$(basename $1).log 2>&1; echo "$(basename $1) rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$(basename $1).log | tr '\n' ' ')"; }
export -f run; export R
printf '%s\n' "$B/tests/test_cuda_gemv_gemv_q_test" "$B/tests/test_cuda_model_cuda_session_test" | xargs -P 2 -L 1 bash -c 'run $0 $@'
echo "tests done at $((SECONDS-t0))s"
grep -E "Failure" -A4 $R/test_cuda_gemv_gemv_q_test.log | head -24
g() {  # variant name args...
  local v=$1 n=$2; shift 2
  timeout 60 $K bench --variant $v gemv --validate --M 16 "$@" --json $R/gemv-$v-$n.json > $R/gemv-$v-$n.txt 2>&1
}
for v in mma_wide_pdl mma_wide_staged_pdl; do
  g $v down --bits 4,8 --N 4096,4096 --K 11008,14336 --epilogue residual
  g $v swiglu --bits 4 --N 11008,14336 --K 4096,4096 --epilogue swiglu
done
grep -h "^gemv  " $R/gemv-*.txt | sort -k3,3 -k4,4 -k5,5 | cut -c1-130
e2e() {  # name on args...
  local n=$1 s=$2; shift 2
  KLAB_CUDA_WIDE_STAGED=$s timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$s.json > $R/e2e-$n-$s.txt 2>&1
  echo "$n wide_staged=$s: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n-$s.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for s in 1 0 1 0; do e2e 7b-q4 $s --model llama2-7b --weights q4_0 --batch 16; done
for s in 1 0; do e2e 8b-q4 $s --model llama3-8b --weights q4_0 --batch 16; done
for s in 1 0; do e2e 7b-q8 $s --model llama2-7b --weights q8_0 --batch 16; done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 --timeline $R/tl > $R/tl.txt 2>&1
grep -E "^  " $R/tl.txt | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -10
tar -czf $OUT/resc5.tgz -C $R .
echo "total $((SECONDS-t0))s"
