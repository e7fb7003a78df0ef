#!/usr/bin/env bash
# Session 24 c2 (H200): the final code (s23 c6's cluster loop, nothing else changed since s21)
# measured for the issues' tables, and the launch floor of the decode attention's shape.
#   - the launch-floor probe (scripts/probes/decode_launch_floor.cu, built here, carried as
#     .carry/launch_floor). Expectation: an empty launch of `_spec`'s shape (72 CTAs in clusters
#     of 9, 140 KiB of shared memory) in a graph costs ~2-3 µs, one DRAM round trip and the
#     cluster barrier ~1-1.5 µs more, i.e. most of B=1 decode attention's ~5 µs fixed part;
#   - the GPU tests whose kernels use the cluster decode (fused decode, CUDA session, batch
#     decode); the decode-attention binary passed in c1 (864 / 864);
#   - the issue-4 shapes (decode B 1..32 x 4096 / 16384, contiguous and paged16; prefill 8192)
#     with PyTorch's SDPA beside them, and the issue-8 Llama-2-7B e2e matrix.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
"$OLDPWD/.carry/launch_floor" | tee "$R/launch-floor.txt"
dr_build klab_cli test_cuda_fused_decode_fused_decode_test test_cuda_model_cuda_session_test \
  test_cuda_model_batch_decode_test
dr_test_sharded fused test_cuda_fused_decode_fused_decode_test 4 150
dr_test session test_cuda_model_cuda_session_test 150
dr_test batch test_cuda_model_batch_decode_test 150
dr_pack
timeout 100 "$K" bench decode-attn --batch 1,8,16,32 --len 4096,16384 --layout contiguous,paged \
  --json "$R/attn-decode.json" > "$R/attn-decode.txt" 2>&1
echo "decode-attn rc $? ($((SECONDS - t0))s)"
grep -h "^bench: .*\[" "$R/attn-decode.txt" | cut -c1-120
timeout 60 "$K" bench prefill-attn --len 8192 --causal 1,0 --json "$R/attn-prefill.json" \
  > "$R/attn-prefill.txt" 2>&1
echo "prefill-attn rc $? ($((SECONDS - t0))s)"
grep -h "^bench: .*\[" "$R/attn-prefill.txt" | cut -c1-120
timeout 90 python3 scripts/bench_sdpa.py --out "$R/sdpa.json" > "$R/sdpa.txt" 2>&1
echo "sdpa rc $? ($((SECONDS - t0))s)"
dr_pack
timeout 250 "$K" bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1,4,16 \
  --ctx 512,4096 --prompt 512 --json "$R/e2e-llama2-7b.json" > "$R/e2e-llama2-7b.txt" 2>&1
echo "e2e 7b rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R/e2e-llama2-7b.txt" | cut -c1-140
dr_finish
