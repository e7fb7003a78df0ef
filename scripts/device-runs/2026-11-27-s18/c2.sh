#!/usr/bin/env bash
# session 18, call c2 (H100): where the one-tile mma_wide kernels wait, by instruction. c1's ring
# (codes through shared memory, requested an iteration ahead) made every mma_wide shape slower
# (O 8.33 -> 10.47 us), so the code loads' issue point is not what binds them. Nsight Compute
# with source counters (stall samples per SASS instruction) on one launch each of the O
# projection (4096 x 4096, one tile a block), the 7B SwiGLU (11008 x 4096) and QKV (12288 x 4096,
# three tiles a block), M = 16, 4 bits; plus the L1 hit rate of their global loads. Prediction:
# the stalls sit on the instructions that consume x (the HMMAs, L2 / L1 latency of the 16-byte x
# loads, one round trip a sub-chunk), not on the code decode (DRAM); the L1 hit rate of global
# loads is high (x, 128 KB, read by each of the 2-3 blocks an SM), which would explain why the
# ring's shared memory (a smaller L1) cost time.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
dr_build klab_cli
prof() {  # NAME KERNEL_REGEX GEMV_ARGS...
  local n=$1 k=$2
  shift 2
  timeout 150 ncu --clock-control none -k "regex:$k" --launch-skip 20 --launch-count 1 \
    --set full --import-source yes --warp-sampling-interval 0 -o "$R/ncu-$n" "$K" bench \
    --no-validate --seconds 0.05 --variant mma_wide_pdl gemv --M 16 "$@" > "$R/ncu-$n.log" 2>&1
  echo "== ncu $n rc $? ($((SECONDS - t0))s)"
  ncu -i "$R/ncu-$n.ncu-rep" --page details > "$R/ncu-$n-details.txt" 2>&1
  grep -E "Duration|DRAM Throughput|Issue Slots Busy|Eligible Warps|No Eligible|Warp Cycles Per Issued|Achieved Occupancy|Registers Per|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth|Shared Memory Configuration Size|Block Limit" \
    "$R/ncu-$n-details.txt" | head -22 | cut -c1-110
  ncu -i "$R/ncu-$n.ncu-rep" --page source --csv --print-source sass > "$R/ncu-$n-sass.csv" \
    2> "$R/ncu-$n-sass.err"
  echo "sass csv rc $? lines $(wc -l < "$R/ncu-$n-sass.csv")"
  rm -f "$R/ncu-$n.ncu-rep"
}
prof o gemv_mma_wide_kernel --N 4096 --K 4096
prof swiglu gemv_mma_wide_kernel --N 11008 --K 4096 --epilogue swiglu
prof qkv-r3 gemv_mma_wide_rows_kernel --N 12288 --K 4096
dr_finish
