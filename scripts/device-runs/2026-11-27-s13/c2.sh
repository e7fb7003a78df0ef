#!/usr/bin/env bash
# session 13 call 2 (H100): where the decode attention's time goes at the engine's B=1 shapes.
# c1 showed the attention ending ~7 us after the QKV GEMV even with its K/V history in L2, so
# its cost in the step is a latency chain, not bytes. Nsight Compute with PC sampling on the
# isolated kernel (`klab bench decode-attn`, which sets indices_ready and history_ready as the
# engine does): MHA 32/32 S=512 (Llama-2-7B) `_s2`, and GQA 32/8 S=4096 `_spec` (issue 4's
# B=1 10 us target). Per-SASS stall samples via `--page source --print-source sass`.
# Also: racecheck of the whole fused decode test binary (s12 c3 timed out after 5 of 17).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc2; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_fused_decode_fused_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
prof() {  # name variant bench-args...
  local n=$1 v=$2; shift 2
  timeout 90 ncu --clock-control none -k "regex:decode_cluster" --launch-skip 30 --launch-count 1 --set full --import-source yes -o $R/ncu-$n $K bench --variant $v decode-attn "$@" > $R/ncu-$n.log 2>&1
  echo "== ncu $n rc $? ($((SECONDS-t0))s)"
  ncu -i $R/ncu-$n.ncu-rep --page details > $R/ncu-$n-details.txt 2>&1
  grep -E "Duration|DRAM Throughput|SM Active Cycles|Elapsed Cycles|Issue Slots Busy|Eligible Warps|No Eligible|Warp Cycles Per Issued|Grid Size|Cluster Size|Registers Per" $R/ncu-$n-details.txt | head -14 | cut -c1-110
  ncu -i $R/ncu-$n.ncu-rep --page source --csv --print-source sass > $R/ncu-$n-sass.csv 2> $R/ncu-$n-sass.err
  echo "sass csv rc $? lines $(wc -l < $R/ncu-$n-sass.csv) $(head -c 300 $R/ncu-$n-sass.err)"
}
prof mha-s2 split_kv_mma_cluster_s2 --batch 1 --len 512 --hq 32 --hkv 32 --layout contiguous
prof gqa-spec split_kv_mma_cluster_spec --batch 1 --len 4096 --layout contiguous
timeout 360 compute-sanitizer --tool racecheck --error-exitcode 99 $B/tests/test_cuda_fused_decode_fused_decode_test > $R/san-racecheck-fused.log 2>&1; echo "racecheck fused rc $? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|PASSED|FAILED' $R/san-racecheck-fused.log | tr '\n' ' ') ($((SECONDS-t0))s)"
rm -f $R/*.ncu-rep.tmp
tar -czf $OUT/resc2.tgz -C $R .
echo "total $((SECONDS-t0))s"
