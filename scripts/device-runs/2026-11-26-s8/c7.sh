#!/usr/bin/env bash
# session 8 call 7 (H100): spread for the down GEMV too (KLAB_CUDA_SPREAD=o: O only, the c3-c6
# setting). c5 timeline: 7B Q4_0 B=1 down 11.9 us a layer for 8.5 us of bytes, 256 blocks that
# may hold 3 an SM on the SMs gate/up frees first. Prediction: ~10.5 us, +2% at 7B Q4_0 B=1.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res7; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
e2e() {  # name mode args...
  local n=$1 m=$2; shift 2
  KLAB_CUDA_SPREAD=$m timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$m.json > $R/e2e-$n-$m.txt 2>&1
  echo "$n spread=$m: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n-$m.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for m in all o all o; do e2e 7b-q4 $m --model llama2-7b --weights q4_0 --batch 1,4; done
for m in all o; do e2e 7b-q8 $m --model llama2-7b --weights q8_0 --batch 1; done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
grep -hE "timeline|^  " $R/tl.txt | cut -c1-170 | head -12
tar -czf $OUT/res7.tgz -C $R .
echo "total $((SECONDS-t0))s"
