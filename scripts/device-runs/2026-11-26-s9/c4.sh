#!/usr/bin/env bash
# session 9 call 4 (H100): where mma_wide_staged v2 stands (c3: the bench ran beside the GEMV
# test, so its kernel numbers are not clean; end to end 7B Q4_0 B=16 3,428 vs 3,488 tok/s with
# mma_wide). The B=16 decode-step timeline with each (per-kernel advance in the graph), and ncu
# of v2 at 12288 x 4096 (4-bit, M = 16) against mma_wide.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc4; rm -rf $R; mkdir -p $R; t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
B=/tmp/klab-build; K=$B/bin/klab
for s in 1 0; do
  KLAB_CUDA_WIDE_STAGED=$s timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 --timeline $R/tl-$s > $R/tl-$s.txt 2>&1
  echo "wide_staged=$s rc $?"; grep -E "^  " $R/tl-$s.txt | cut -c1-150 | head -12
done
for v in mma_wide_staged_pdl mma_wide_pdl; do
  timeout 120 ncu --kernel-name regex:gemv_mma_wide --launch-skip 30 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section SchedulerStats \
    --section WarpStateStats --section InstructionStats --metrics smsp__pcsamp_warps_issue_stalled_long_scoreboard,smsp__pcsamp_warps_issue_stalled_barrier,smsp__pcsamp_warps_issue_stalled_short_scoreboard,smsp__pcsamp_warps_issue_stalled_math_pipe_throttle,smsp__pcsamp_warps_issue_stalled_wait,smsp__pcsamp_warps_issue_stalled_not_selected,smsp__pcsamp_warps_issue_stalled_selected,smsp__pcsamp_warps_issue_stalled_mio_throttle,smsp__pcsamp_warps_issue_stalled_lg_throttle,smsp__pcsamp_warps_issue_stalled_dispatch_stall,smsp__pcsamp_warps_issue_stalled_membar,smsp__pcsamp_warps_issue_stalled_sleeping,smsp__pcsamp_warps_issue_stalled_branch_resolving,smsp__pcsamp_warps_issue_stalled_no_instructions,smsp__pcsamp_warps_issue_stalled_tex_throttle,smsp__pcsamp_warps_issue_stalled_drain,smsp__pcsamp_warps_issue_stalled_imc_miss,smsp__pcsamp_warps_issue_stalled_misc \
    $K bench --variant $v gemv --no-validate --seconds 0.2 --M 16 --bits 4 --N 12288 --K 4096 > $R/ncu-$v.txt 2>&1
  echo "ncu $v rc $?"
done
tar -czf $OUT/resc4.tgz -C $R .
echo "total $((SECONDS-t0))s"
