#!/usr/bin/env bash
# session 19, call c6 (H100), a profile for the next session (no code change; c5's commit): where
# the batch-1 4-bit GEMVs of Llama-2-7B wait (7B Q4_0 B=1 is the target furthest away: 63% of the
# bandwidth bound against 75%; s14 timeline: QKV 14.24 µs a layer for 9.4 of bytes, down 11.81
# for 8.5, gate/up 19.67 for 16.9). Nsight Compute with source counters on one launch each of
# `mma_staged_pdl` at M = 1: 12288 x 4096 (QKV), 4096 x 11008 (down), SwiGLU 11008 x 4096.
# Prediction: DRAM throughput 65-80% under ncu (no PDL overlap there); the largest stall sites
# are the ring's cp.async waits (long scoreboard on the stage barrier), not the math; and the
# grid's last wave (tail) shows as SMs idle in the down projection (256 blocks on 132 SMs).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
dr_build klab_cli
prof() {  # NAME GEMV_ARGS...
  local n=$1
  shift
  timeout 150 ncu --clock-control none -k "regex:gemv_mma_staged" --launch-skip 20 \
    --launch-count 1 --set full --import-source yes --warp-sampling-interval 0 -o "$R/ncu-$n" \
    "$K" bench --no-validate --seconds 0.05 --variant mma_staged_pdl gemv --M 1 "$@" \
    > "$R/ncu-$n.log" 2>&1
  echo "== ncu $n rc $? ($((SECONDS - t0))s)"
  ncu -i "$R/ncu-$n.ncu-rep" --page details > "$R/ncu-$n-details.txt" 2>&1
  grep -E "Duration|DRAM Throughput|Issue Slots Busy|Eligible Warps|No Eligible|Warp Cycles Per Issued|Achieved Occupancy|Registers Per|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth|Block Limit|Grid Size|Block Size|Waves Per SM" \
    "$R/ncu-$n-details.txt" | head -24 | cut -c1-110
  ncu -i "$R/ncu-$n.ncu-rep" --page source --csv --print-source sass > "$R/ncu-$n-sass.csv" \
    2> "$R/ncu-$n-sass.err"
  python3 scripts/ncu_stalls.py "$R/ncu-$n-sass.csv" --top 8 2>&1 | cut -c1-140 | head -20
  rm -f "$R/ncu-$n.ncu-rep"
}
dr_bench b1 --variant mma_staged_pdl gemv --M 1 --N 12288,4096 --K 4096,11008
prof qkv --N 12288 --K 4096
prof down --N 4096 --K 11008
prof swiglu --N 11008 --K 4096 --epilogue swiglu
dr_finish
