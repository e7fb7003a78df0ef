#!/usr/bin/env bash
# session 6 call 8 (H100): history_ready with the deferred row waited for at its own (last) tile
# instead of right after the PDL wait (c7: the early wait put one round trip on the critical
# warp: B=1 S=4096 _spec 11.57 vs 10.18 us). Builds klab + the engine / decode tests; the whole
# decode test, the engine's session (no real model), batch and fused tests; memcheck + racecheck
# of the history test; decode bench with / without; e2e 7B Q4_0 B=1,16 and 8B Q4_0 B=1 with /
# without.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res8; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_attn_decode_decode_test test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test test_cuda_fused_decode_fused_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab; T=$B/tests/test_cuda_attn_decode_decode_test
run() { timeout 200 "$@" > $R/$(basename $1).log 2>&1; echo "$(basename $1) rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$(basename $1).log | tr '\n' ' ')"; }
export -f run; export R
printf '%s\n' "$T" "$B/tests/test_cuda_model_batch_decode_test" "$B/tests/test_cuda_fused_decode_fused_decode_test" \
  "$B/tests/test_cuda_model_cuda_session_test --gtest_filter=-*RealModel*" | xargs -P 4 -L 1 bash -c 'run $0 $@'
grep -hE "^\[  FAILED" $R/*.log | head
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 99 $T --gtest_filter='*HistoryReady*' > $R/san-memcheck.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck.log)"
timeout 120 compute-sanitizer --tool racecheck --error-exitcode 99 $T --gtest_filter='*HistoryReady*' > $R/san-racecheck.log 2>&1; echo "racecheck rc $? $(grep 'RACECHECK SUMMARY' $R/san-racecheck.log)"
for e in 1 0; do
  KLAB_CUDA_DECODE_EARLY_KV=$e timeout 90 $K bench decode-attn --batch 1,8 --len 4096,16384 --layout contiguous,paged --json $R/attn-decode-e$e.json > $R/attn-decode-e$e.txt 2>&1
  KLAB_CUDA_DECODE_EARLY_KV=$e timeout 30 $K bench decode-attn --batch 1 --len 512 --hq 32 --hkv 32 --json $R/attn-mha-e$e.json > $R/attn-mha-e$e.txt 2>&1
  echo "== early_kv $e at $((SECONDS-t0))s"; grep -hE "^bench: decode_attention/split_kv_mma_cluster.*B=1" $R/attn-decode-e$e.txt $R/attn-mha-e$e.txt | cut -c7-110
done
for e in 1 0; do
  KLAB_CUDA_DECODE_EARLY_KV=$e timeout 60 $K bench e2e --model llama2-7b --weights q4_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e-7b-e$e.json > $R/e2e-7b-e$e.txt 2>&1
  KLAB_CUDA_DECODE_EARLY_KV=$e timeout 60 $K bench e2e --model llama3-8b --weights q4_0 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-8b-e$e.json > $R/e2e-8b-e$e.txt 2>&1
  echo "== early_kv $e"; grep -hE "^bench: e2e .*tokens/s" $R/e2e-7b-e$e.txt $R/e2e-8b-e$e.txt | cut -c1-120
done
tar -czf $OUT/res8.tgz -C $R .
echo "total $((SECONDS-t0))s"
