#!/usr/bin/env bash
# session 5 call 1 (asks for an H100: the issue targets are H100 numbers): build `klab` of the
# committed snapshot, then e2e (Llama-2-7B Q4_0 / Q8_0 / F16 B=1,16 ctx 512 + prefill 512;
# Llama-3-8B Q4_0 B=1,16; dp4a opt-in at B=1), the issue-4 attention shapes (decode contiguous +
# paged, prefill 8192) and PyTorch SDPA on the same shapes.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
timeout 200 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1,16 --ctx 512 --json $R/e2e-llama2-7b.json > $R/e2e-llama2-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
timeout 80 $K bench e2e --model llama3-8b --weights q4_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e-llama3-8b.json > $R/e2e-llama3-8b.txt 2>&1; echo "e2e 8b rc $? at $((SECONDS-t0))s"
KLAB_CUDA_GEMV=dp4a_pdl timeout 60 $K bench e2e --model llama2-7b --weights q4_0 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-dp4a.json > $R/e2e-dp4a.txt 2>&1; echo "e2e dp4a rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-*.txt | cut -c1-140
timeout 90 $K bench decode-attn --batch 1,8,32 --len 4096,16384 --layout contiguous,paged --json $R/attn-decode.json > $R/attn-decode.txt 2>&1; echo "decode rc $? at $((SECONDS-t0))s"
timeout 60 $K bench prefill-attn --len 8192 --causal 1,0 --json $R/attn-prefill.json > $R/attn-prefill.txt 2>&1; echo "prefill rc $? at $((SECONDS-t0))s"
timeout 90 python3 scripts/bench_sdpa.py --out $R/sdpa.json > $R/sdpa.txt 2>&1; echo "sdpa rc $? at $((SECONDS-t0))s"
grep -hE "^bench: (decode|prefill)_attention/(split_kv_mma_cluster_spec|split_kv_mma_cluster_s2|wgmma_fa3_tma|auto)" $R/attn-*.txt | cut -c1-130
tail -12 $R/sdpa.txt | cut -c1-130
tar -czf $OUT/res1.tgz -C $R .
echo "total $((SECONDS-t0))s"
