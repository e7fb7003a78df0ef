#!/usr/bin/env bash
# session 11 call 3 (H100): why paged decode attention (page 16) costs a constant ~2 us more than
# contiguous at B=1 (s7: S=4096 12.46 vs 10.24 us, +21%; S=16384 +2.2 us, +7%; issue 4 asks for
# 10%). Hypotheses: (a) the shuffled page order (bench default, as a long-running allocator
# leaves pages) costs DRAM or TLB locality; (b) the prologue's table round trip and syncthreads.
# `--pages sequential` (new bench option) keeps the same kernel and table lookups with pages in
# order: if (a), sequential ~ contiguous; if (b), sequential ~ shuffled. Prediction: (b), i.e.
# sequential within 0.3 us of shuffled. Plus ncu (SOL, memory, warp states) of _w8 (no
# speculation: both layouts take one round trip before the first K/V copy) on the three.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc3; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
for v in split_kv_mma_cluster_spec split_kv_mma_cluster_w8 split_kv_mma_cluster_s2; do
  for rep in 1 2; do
    timeout 120 $K bench --variant $v decode-attn --batch 1 --len 4096,16384 --layout contiguous,paged --pages shuffled --json $R/attn-$v-shuffled-$rep.json > $R/attn-$v-shuffled-$rep.txt 2>&1
    timeout 120 $K bench --variant $v decode-attn --batch 1 --len 4096,16384 --layout paged --pages sequential --json $R/attn-$v-sequential-$rep.json > $R/attn-$v-sequential-$rep.txt 2>&1
    echo "$v rep $rep: $(grep -hoE '\[B=1,S=[0-9]+,[a-z0-9,]+\] +[0-9.]+ us' $R/attn-$v-shuffled-$rep.txt $R/attn-$v-sequential-$rep.txt | tr -s ' ' | tr '\n' ' ') ($((SECONDS-t0))s)"
  done
done
n() {  # name layout pages
  timeout 90 ncu --clock-control none -k "regex:decode_cluster" --launch-skip 20 --launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis --section LaunchStats --section WarpStateStats --section SchedulerStats $K bench --variant split_kv_mma_cluster_w8 decode-attn --batch 1 --len 4096 --layout $2 --pages $3 > $R/ncu-$1.txt 2>&1
  echo "== ncu $1 rc $?"; grep -E "^    Duration|DRAM Throughput|SM Active Cycles|Elapsed Cycles|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|L2 Hit Rate|Memory Throughput|Grid Size|Cluster Size" $R/ncu-$1.txt | head -14 | cut -c1-110
}
n contiguous contiguous shuffled
n paged-shuffled paged shuffled
n paged-sequential paged sequential
tar -czf $OUT/resc3.tgz -C $R .
echo "total $((SECONDS-t0))s"
