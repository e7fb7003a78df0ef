#!/usr/bin/env bash
# session 9 call 2 (H100): why mma_wide_staged lost in c1 (M = 16, 12288 x 4096 4-bit: 26.2 us
# against 17.6 for mma_wide_pdl): Nsight Compute of both kernels (scheduler and warp-state
# sections, instruction stats) and the SASS of the staged kernel's 4-bit one-tile instantiation.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc2; rm -rf $R; mkdir -p $R; t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
B=/tmp/klab-build; K=$B/bin/klab
for v in mma_wide_staged_pdl mma_wide_pdl; do
  timeout 120 ncu --kernel-name regex:gemv_mma_wide --launch-skip 30 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section SchedulerStats \
    --section WarpStateStats --section InstructionStats --section MemoryWorkloadAnalysis \
    $K bench --variant $v gemv --no-validate --seconds 0.2 --M 16 --bits 4 --N 12288 --K 4096 > $R/ncu-$v.txt 2>&1
  echo "ncu $v rc $?"
done
o=$(find $B -name 'mma_wide_staged_f16.cu.o' | head -1)
cuobjdump -sass $o > $R/wide_staged_f16.sass 2>&1; echo "sass rc $? $(wc -l < $R/wide_staged_f16.sass)"
tar -czf $OUT/resc2.tgz -C $R .
echo "total $((SECONDS-t0))s"
