#!/usr/bin/env bash
# session 4 final call 2 (same warm machine): the real model (session tests incl. CPU == CUDA and
# fused == unfused greedy, memcheck of a short generation, generation speed), the quick suite,
# the attention shapes with PyTorch SDPA beside them, autotune write + check.
set -uo pipefail
test -f /tmp/m.a || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models && ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
B=/tmp/klab-build; K=$B/bin/klab; cd /tmp/snap; t0=$SECONDS
R=/tmp/res2; rm -rf $R; mkdir -p $R
timeout 150 $B/tests/test_cuda_model_cuda_session_test --gtest_brief=1 --gtest_filter='*RealModel*' > $R/realmodel.log 2>&1; echo "realmodel rc $? at $((SECONDS-t0))s"; grep -E "^\[  (PASSED|FAILED)|worst|Failure" $R/realmodel.log | head -8
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 99 $K generate -m /tmp/m.gguf -p "The capital of France is" -n 16 --temp 0 --device cuda > $R/generate-memcheck.log 2>&1; echo "generate memcheck rc $? $(grep 'ERROR SUMMARY' $R/generate-memcheck.log)"
for g in 1 0; do KLAB_CUDA_GRAPHS=$g $K generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160; done
t1=$SECONDS; timeout 120 $K bench --suite quick --json $R/quick.json --csv $R/quick.csv > $R/quick.txt 2>&1; echo "quick suite rc $? in $((SECONDS-t1))s"; tail -2 $R/quick.txt | cut -c1-150
timeout 90 $K bench decode-attn --batch 1,8,16,32 --len 4096,16384 --layout contiguous,paged --json $R/attn-decode.json > $R/attn-decode.txt 2>&1; echo "decode rc $?"
timeout 60 $K bench prefill-attn --len 8192 --causal 1,0 --json $R/attn-prefill.json > $R/attn-prefill.txt 2>&1; echo "prefill rc $?"
timeout 90 python3 scripts/bench_sdpa.py --out $R/sdpa.json > $R/sdpa.txt 2>&1; echo "sdpa rc $? at $((SECONDS-t0))s"
grep -hE "^bench: (decode|prefill)_attention/(split_kv_mma_cluster_spec|split_kv_mma_cluster_s2|split_kv_mma_fused|wgmma_fa3_tma|mma_fa2)" $R/attn-*.txt | cut -c1-120
cache=$(mktemp -d /tmp/klab-autotune.XXXXXX)
t1=$SECONDS; KLAB_CACHE_DIR=$cache timeout 80 $K autotune --quick --write-cache --json $R/autotune-write.json > $R/autotune-write.log 2>&1; echo "autotune write rc $? in $((SECONDS-t1))s"
t1=$SECONDS; KLAB_CACHE_DIR=$cache timeout 80 $K autotune --quick --check --json $R/autotune-check.json > $R/autotune-check.log 2>&1; echo "autotune check rc $? in $((SECONDS-t1))s"; grep -A6 "^targets" $R/autotune-check.log | cut -c1-150
tar -czf $OUT/res2.tgz -C $R .
echo "total $((SECONDS-t0))s"
