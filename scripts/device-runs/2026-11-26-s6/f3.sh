#!/usr/bin/env bash
# session 6 final call 3 (same warm machine): `klab bench e2e` (Llama-2-7B Q4_0 / Q8_0 / F16 x
# batch 1, 4, 16 x ctx 512, 4096 + prefill 512; Llama-3-8B Q4_0 and the real model at batch 1
# and 16), the attention shapes with PyTorch SDPA beside them, the quick suite, and
# `klab generate` on the real model.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
if [ ! -x /tmp/klab-build/bin/klab ]; then  # a fresh machine: build the CLI (no real model then)
  rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
  cmake -S /tmp/snap -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
  cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $?"
fi
models=llama3-8b; test -f /tmp/m.gguf && models=llama3-8b,default
B=/tmp/klab-build; K=$B/bin/klab; cd /tmp/snap; t0=$SECONDS
R=/tmp/resf3; rm -rf $R; mkdir -p $R
timeout 230 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --json $R/e2e-llama2-7b.json > $R/e2e-llama2-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
timeout 100 $K bench e2e --model $models --weights q4_0 --batch 1,16 --ctx 512 --json $R/e2e-llama3-8b-default.json > $R/e2e-llama3-8b-default.txt 2>&1; echo "e2e 8b+default rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-*.txt | cut -c1-130
timeout 90 $K bench decode-attn --batch 1,8,16,32 --len 4096,16384 --layout contiguous,paged --json $R/attn-decode.json > $R/attn-decode.txt 2>&1; echo "decode rc $? at $((SECONDS-t0))s"
timeout 60 $K bench prefill-attn --len 8192 --causal 1,0 --json $R/attn-prefill.json > $R/attn-prefill.txt 2>&1; echo "prefill rc $?"
timeout 90 python3 scripts/bench_sdpa.py --out $R/sdpa.json > $R/sdpa.txt 2>&1; echo "sdpa rc $? at $((SECONDS-t0))s"
timeout 100 $K bench --suite quick --json $R/quick.json --csv $R/quick.csv > $R/quick.txt 2>&1; echo "quick suite rc $? at $((SECONDS-t0))s"; tail -2 $R/quick.txt | cut -c1-150
test -f /tmp/m.gguf && for g in 1 0; do KLAB_CUDA_GRAPHS=$g $K generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160; done
tar -czf $OUT/resf3.tgz -C $R .
echo "total $((SECONDS-t0))s"
