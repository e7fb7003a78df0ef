#!/usr/bin/env bash
# session 15, call c3 (H100): mma_wide_split with every copy address computed once (c2's ncu:
# 197 warp instructions a chunk-tile at 12288 x 4096, of which ~80 in the per-stage copy issue and
# ~43 in the prologue / epilogue; IPC 2.28). Prediction (written before the run): ~130
# instructions a chunk-tile, 12288 x 4096 at 16 tokens 27.5 -> ~18 us (mma_wide 17.6), 4096 x
# 11008 32.8 -> ~21 (19.6); end to end 7B Q4_0 B=16 within +-3% of mma_wide (c1: 2,937 vs 3,488).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
dr_build klab_cli test_cuda_gemv_gemv_q_test
dr_test gemvq test_cuda_gemv_gemv_q_test 300 --gtest_filter='*WideSplit*:*WidePdl*:*Swiglu*'
bench() {  # NAME ARGS...
  local name=$1
  shift
  timeout 120 "$K" bench "$@" --json "$R/gemv-$name.json" > "$R/gemv-$name.txt" 2>&1
  echo "gemv $name rc $? ($((SECONDS - t0))s)"
}
for v in mma_wide_pdl mma_wide_split_pdl; do
  bench "$v" --variant "$v" gemv --M 16 --N 12288,4096,4096,32000 --K 4096,4096,11008,4096
  bench "$v-swiglu" --variant "$v" gemv --M 16 --N 11008 --K 4096 --epilogue swiglu
done
for s in 2 4 8; do
  KLAB_CUDA_WIDE_SPLIT=$s bench "split$s" --variant mma_wide_split_pdl gemv --M 16 \
    --N 12288,4096,4096 --K 4096,4096,11008
done
grep -hE "bench: gemv" "$R"/gemv-*.txt
KLAB_CUDA_WIDE_SPLIT=4 timeout 60 ncu --clock-control none -k "regex:gemv_mma_wide_split" \
  --launch-skip 20 --launch-count 1 --section SpeedOfLight --section LaunchStats \
  --section SchedulerStats --section InstructionStats -o "$R/ncu-split" "$K" bench --no-validate \
  --seconds 0.05 --variant mma_wide_split_pdl gemv --M 16 --N 12288 --K 4096 > "$R/ncu.log" 2>&1
ncu -i "$R/ncu-split.ncu-rep" --page details > "$R/ncu-split-details.txt" 2>&1
grep -E "Duration|DRAM Throughput|Executed Ipc A|Issue Slots Busy|No Eligible|Executed Instructions  " \
  "$R/ncu-split-details.txt" | cut -c1-100
for i in 1 2; do
  KLAB_CUDA_GEMV=mma_wide_pdl dr_e2e b16-wide$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-split$i --model llama2-7b --weights q4_0 --batch 16
done
dr_finish
