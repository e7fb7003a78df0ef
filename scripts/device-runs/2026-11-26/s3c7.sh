#!/usr/bin/env bash
# session 3 call 7: PDL decode chain on/off, the 7B step breakdown, quick suite timing.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap
R=/tmp/res; rm -rf $R; mkdir -p $R
t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
for t in model_cuda_session_test model_batch_decode_test; do
  timeout 100 $B/tests/test_cuda_$t --gtest_brief=1 > $R/$t.log 2>&1; echo "$t rc $? $(grep -E '^\[  (PASSED|FAILED)' $R/$t.log | tr '\n' ' ' | cut -c1-200)"
done
for p in 1 0; do
  KLAB_CUDA_PDL=$p timeout 150 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1 --ctx 512 --prompt 0 > $R/e2e-pdl$p.txt 2>&1; echo "e2e pdl=$p rc $?"; grep -E "tokens/s" $R/e2e-pdl$p.txt | cut -c1-150
done
OUT=$R KLAB_PROFILE_COUNT=400 timeout 150 bash scripts/profile-e2e.sh llama2-7b q4_0 2>&1 | tail -12
t1=$SECONDS; timeout 300 $K bench --suite quick --json $R/quick.json > $R/quick.txt 2>&1; echo "quick suite rc $? in $((SECONDS-t1))s"
tail -3 $R/quick.txt
tar -czf $OUT/res.tgz -C $R .
echo "total $((SECONDS-t0))s"
