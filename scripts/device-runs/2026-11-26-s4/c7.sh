#!/usr/bin/env bash
# session 4 call 7: Nsight Compute of mma_lean against mma_staged (why the leaner loop is slower),
# autotune write + check (every family, timed), e2e with the cluster decode auto.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=$OUT; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
B=/tmp/klab-build; K=$B/bin/klab
sec="--section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section SchedulerStats --section LaunchStats --section InstructionStats --section SourceCounters"
for v in mma_staged mma_lean; do
  timeout 90 ncu --clock-control none -k "regex:gemv_mma_(staged|lean)_kernel" --launch-skip 20 --launch-count 1 $sec $K bench gemv --bits 4 --M 1 --N 14336 --K 4096 --variant $v > $R/ncu-$v.txt 2>&1
  echo "== $v rc $?"; grep -E "Duration|DRAM Throughput|Executed Instructions  |Registers Per|Achieved Occ|Theoretical Occ|Block Limit|Dynamic Shared|Warp Cycles Per Issued|Eligible Warps|Grid Size|Block Size|Bank|stall" $R/ncu-$v.txt | head -24 | cut -c1-120
done
echo "at $((SECONDS-t0))s"
cache=$(mktemp -d /tmp/klab-autotune.XXXXXX)
t1=$SECONDS; KLAB_CACHE_DIR=$cache timeout 200 $K autotune --quick --write-cache --json $R/autotune-write.json > $R/autotune-write.log 2>&1; echo "autotune write rc $? in $((SECONDS-t1))s"; tail -4 $R/autotune-write.log | cut -c1-160
t1=$SECONDS; KLAB_CACHE_DIR=$cache timeout 200 $K autotune --quick --check --json $R/autotune-check.json > $R/autotune-check.log 2>&1; echo "autotune check rc $? in $((SECONDS-t1))s"; tail -30 $R/autotune-check.log | cut -c1-170
echo "total $((SECONDS-t0))s"
