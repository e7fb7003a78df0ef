#!/usr/bin/env bash
# session 12 final call 1 (H100): full build of the session's final code from the working tree
# (the log folders moved out so the model's first half fits the carry; kept as /tmp/m.a for v2),
# then the issue-4 attention shapes (every variant) and PyTorch's SDPA on the same shapes, and
# the issue-8 synthetic models end to end. Predictions: paged16 B=1 S=4096 (auto, now _s2)
# ~11.8-12.1 us against contiguous _spec ~10.7-11.1; 7B F16 upload 6.3 -> ~3 s (F16C fold),
# B=4 ~538 tok/s (the fold only at one row), B=1 ~197.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
t0=$SECONDS; cp .carry/model.a /tmp/m.a
rm -rf /tmp/snap && mkdir -p /tmp/snap && cp -r . /tmp/snap/ && cd /tmp/snap && rm -rf .carry
R=/tmp/resv1; rm -rf $R; mkdir -p $R
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
timeout 120 $K bench decode-attn --batch 1,8,16,32 --len 4096,16384 --layout contiguous,paged --json $R/bench-attn-decode.json > $R/attn-decode.txt 2>&1; echo "decode-attn rc $? ($((SECONDS-t0))s)"
grep -E "^bench: .*(cluster_s2|cluster_spec|cluster_w4_spec) \[" $R/attn-decode.txt | sed 's/bench: decode_attention.//' | tr -s ' ' | tr '\n' ';' | cut -c1-1500; echo
timeout 90 $K bench prefill-attn --len 8192 --causal 1,0 --json $R/bench-attn-prefill.json > $R/attn-prefill.txt 2>&1; echo "prefill-attn rc $? ($((SECONDS-t0))s)"
grep -E "^bench: " $R/attn-prefill.txt | tr -s ' ' | cut -c1-100 | tail -8
timeout 120 python3 scripts/bench_sdpa.py --out $R/bench-sdpa.json > $R/sdpa.txt 2>&1; echo "sdpa rc $? ($((SECONDS-t0))s)"; tail -3 $R/sdpa.txt | cut -c1-150
e2e() {  # name args...
  local n=$1; shift
  timeout 100 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n.json > $R/e2e-$n.txt 2>&1
  echo "$n: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n.txt | tr '\n' ' ') upload $(grep -hoE 'session \(upload\) in [0-9.]+ s' $R/e2e-$n.txt | head -1) ($((SECONDS-t0))s)"
}
for rep in 1 2; do
  e2e 7b-f16-$rep --model llama2-7b --weights f16 --batch 1,4
  e2e 7b-q4_0-$rep --model llama2-7b --weights q4_0 --batch 1
done
e2e 7b-q8_0 --model llama2-7b --weights q8_0 --batch 1
e2e 8b-q4_0 --model llama3-8b --weights q4_0 --batch 1
tar -czf $OUT/resv1.tgz -C $R .
echo "total $((SECONDS-t0))s"
