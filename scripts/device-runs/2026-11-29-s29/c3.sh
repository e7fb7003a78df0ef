#!/usr/bin/env bash
# Session 29 c3 (H200): the final tables for what changed this session.
# - The decode attention's speculative prologue (c1: paged16 B=1 S=4096 10.30 / 10.28 -> 10.07 /
#   10.18 µs, contiguous 9.50 / 9.58 -> 9.29 / 9.22): issue 4's shapes again on the final code,
#   with PyTorch's SDPA from the same call. Prediction: B=1 S=4096 9.2-9.6 µs, paged16 +8..+11%
#   over it, S=16384 ~67% of copy; B=8-32 and prefill as s25 (85-102%; 470 / 487 TFLOP/s).
# - The engine keeps its attention path (history_ready: the prologue change is a no-op there);
#   7B Q4_0 B=1 at ctx 4096, old / new alternating: within ±1%.
# - Llama-3-8B F16's matrix on the 2-row QKV (c2: B=1 +3.8%): B=1 ~232 tok/s, B=4 / 16 and the
#   prefill unchanged (the 4-row kernel serves M > 1) within ±1.5% of s28 c1 (606.7 / 3,175.9 /
#   37,140.0).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
dr_build_old klab_cli
dr_build klab_cli
wait
e2e4k() {  # NAME BINARY: 7B Q4_0 B=1 ctx 4096 (dr_e2e fixes ctx 512)
  timeout 100 "$2" bench e2e --prompt 0 --ctx 4096 --model llama2-7b --weights q4_0 --batch 1 \
    --json "$R/e2e-$1.json" > "$R/e2e-$1.txt" 2>&1
  echo "$1: $(grep -hoE '[0-9.,]+ tokens/s' "$R/e2e-$1.txt" | tr '\n' ' ')($((SECONDS - t0))s)"
}
for i in 1 2; do
  e2e4k "7b-q4-ctx4096-old-$i" "$OLD"
  e2e4k "7b-q4-ctx4096-new-$i" "$K"
done
dr_pack
dr_attn_tables
dr_pack
timeout 120 "$K" bench e2e --model llama3-8b --weights f16 --batch 1,4,16 --ctx 512 \
  --prompt 512 --json "$R/e2e-8b-f16.json" > "$R/e2e-8b-f16.txt" 2>&1
echo "e2e 8b f16 rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R/e2e-8b-f16.txt" | cut -c1-110
dr_finish
