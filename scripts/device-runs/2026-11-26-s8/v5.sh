#!/usr/bin/env bash
# session 8 final call 5 (H100): the final rule (decode attention `auto` takes _s2 for ONE
# sequence with history_ready; B=2..7 in the engine back on _spec after v4). Tests: decode
# attention (all), engine session; the e2e matrix on the final commit.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resv5; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_attn_decode_decode_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
B=/tmp/klab-build; K=$B/bin/klab
run() { timeout 250 "$@" > $R/$(basename $1).log 2>&1; echo "$(basename $1) rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$(basename $1).log | tr '\n' ' ')"; }
export -f run; export R
printf '%s\n' "$B/tests/test_cuda_attn_decode_decode_test" "$B/tests/test_cuda_model_cuda_session_test" | xargs -P 2 -L 1 bash -c 'run $0 $@'
timeout 120 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --json $R/e2e-llama2-7b.json > $R/e2e-llama2-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
timeout 100 $K bench e2e --model llama3-8b --weights q4_0 --batch 1,16 --ctx 512,4096 --json $R/e2e-llama3-8b.json > $R/e2e-llama3-8b.txt 2>&1; echo "e2e 8b rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-*.txt | cut -c1-80
tar -czf $OUT/resv5.tgz -C $R .
echo "total $((SECONDS-t0))s"
