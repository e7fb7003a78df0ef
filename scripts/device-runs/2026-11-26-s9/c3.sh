#!/usr/bin/env bash
# session 9 call 3 (H100): mma_wide_staged v2 (16 warps at K >= 64 chunks, one tile a ring item
# with SwiGLU's gate and up as two ring tiles, each warp staging only its own columns of x, no
# division in the ring cursor, one named-barrier exchange a tile). Predictions (M = 16, bench):
# 4-bit 12288 x 4096 26.2 -> 13-15 us (mma_wide_pdl 17.6), 4096 x 4096 residual 10.2 -> 6-7
# (8.9), 11008 x 4096 SwiGLU 35.3 -> 24-28 (37.2); 8-bit 12288 x 4096 37.6 -> 22-26 (27.5).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc3; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 200 $B/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*Wide*:*Rejects*:*Swiglu*:*EveryFormat*' > $R/gemv_q.log 2>&1 &
g() {  # variant name args...
  local v=$1 n=$2; shift 2
  timeout 60 $K bench --variant $v gemv --validate --M 16 "$@" --json $R/gemv-$v-$n.json > $R/gemv-$v-$n.txt 2>&1
  echo "$v $n rc $?"
}
for v in mma_wide_pdl mma_wide_staged_pdl; do
  g $v plain --bits 4,8 --N 12288,4096 --K 4096,4096
  g $v swiglu --bits 4,8 --N 11008 --K 4096 --epilogue swiglu
  g $v residual --bits 4 --N 4096 --K 4096 --epilogue residual
done
grep -h "^gemv  " $R/gemv-*.txt | sort -k3,3 -k4,4 -k5,5 | cut -c1-130
wait; echo "gemv_q $(grep -E '^\[  (PASSED|FAILED) ' $R/gemv_q.log | tr '\n' ' ') ($((SECONDS-t0))s)"
grep -E "Failure|FAILED" -A3 $R/gemv_q.log | head -20
for s in 1 0 1 0; do
  KLAB_CUDA_WIDE_STAGED=$s timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 --json $R/e2e-q4-b16-$s.json > $R/e2e-q4-b16-$s.txt 2>&1
  echo "wide_staged=$s: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-q4-b16-$s.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
done
tar -czf $OUT/resc3.tgz -C $R .
echo "total $((SECONDS-t0))s"
