#!/usr/bin/env bash
# session 8 call 5 (H100): the decode QKV block's norm as its own kernel (rmsnorm_to_half under
# PDL, FusedNormQkvArgs::normed) instead of every staged block's prologue
# (KLAB_CUDA_QKV_NORM=prologue: the old way). c4's timeline: QKV 18.7 us a layer (7B Q4_0 B=1)
# for 9.45 us of bytes and 13.1 us isolated without a norm; its 768 prologues read 25 MB from
# L2 at once after the PDL wait. Prediction: QKV 18.7 -> ~15.5 us plus ~1.3 us of norm kernel,
# 7B Q4_0 B=1 +3% (467 -> ~481 tok/s), Q8_0 and 8B Q4_0 +2%, F16 unchanged (dense QKV).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res5; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_model_cuda_session_test test_cuda_fused_decode_fused_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 200 $B/tests/test_cuda_fused_decode_fused_decode_test > $R/fused.log 2>&1; echo "fused rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/fused.log | tr '\n' ' ') ($((SECONDS-t0))s)"
timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/session.log 2>&1; echo "session rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session.log | tr '\n' ' ') ($((SECONDS-t0))s)"
e2e() {  # name mode args...
  local n=$1 m=$2; shift 2
  KLAB_CUDA_QKV_NORM=$m timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$m.json > $R/e2e-$n-$m.txt 2>&1
  echo "$n qkv-norm=$m: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n-$m.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for m in kernel prologue kernel prologue; do e2e 7b-q4 $m --model llama2-7b --weights q4_0 --batch 1,4; done
for m in kernel prologue kernel prologue; do e2e 8b-q4 $m --model llama3-8b --weights q4_0 --batch 1; done
for m in kernel prologue; do e2e 7b-q8 $m --model llama2-7b --weights q8_0 --batch 1; done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama3-8b --weights q4_0 --batch 1 --timeline $R/tl > $R/tl8.txt 2>&1
grep -hE "timeline|^  " $R/tl.txt $R/tl8.txt | cut -c1-170 | head -30
tar -czf $OUT/res5.tgz -C $R .
echo "total $((SECONDS-t0))s"
