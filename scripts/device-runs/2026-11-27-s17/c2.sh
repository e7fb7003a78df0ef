#!/usr/bin/env bash
# session 17, call c2 (H100): after c1 (mma_wide's interior loop: 4-bit 12288 x 4096 16.2 ->
# 13.2 us, 7B Q4_0 B=16 +1.9%, Q8_0 B=16 +6.4%), where the rest of the batch-16 GEMV time goes.
# c1's timeline (7B Q4_0 B=16, us a layer): gate/up (mma_wide_split, SwiGLU) 34.2 for 16.9 of
# bytes, down (split) 19.4 for 8.5, QKV 17.5 for 9.4, O 10.8 for 3.1. (1) mma_wide against
# mma_wide_split now that mma_wide's loop is leaner, at the shapes auto gives to split (SwiGLU
# 11008 x 4096, 4096 x 11008, 32000 x 4096); prediction: split still ahead at 4096 x 11008 and
# 32000 x 4096 (x traffic), SwiGLU within 5%. (2) Nsight Compute of the split SwiGLU and down
# GEMVs at M = 16 (stall reasons, issue rate): a SwiGLU layer is ~8.8 M warp instructions, ~9.5
# us at the H100's issue rate, against 34 us in the step, so the prediction is latency (long
# scoreboard on the ring's shared loads or the stage barrier), not issue.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
dr_build klab_cli
bench() {  # NAME ARGS...
  local name=$1
  shift
  timeout 120 "$K" bench "$@" --json "$R/gemv-$name.json" > "$R/gemv-$name.txt" 2>&1
  echo "gemv $name rc $? ($((SECONDS - t0))s)"
}
for v in mma_wide_pdl mma_wide_split_pdl; do
  bench "$v" --variant "$v" gemv --M 16 --N 4096,32000 --K 11008,4096
  bench "$v-swiglu" --variant "$v" gemv --M 16 --N 11008 --K 4096 --epilogue swiglu
done
grep -hE "^gemv " "$R"/gemv-*.txt | head -12
prof() {  # NAME KERNEL_REGEX VARIANT GEMV_ARGS...
  local n=$1 k=$2 v=$3
  shift 3
  timeout 120 ncu --clock-control none -k "regex:$k" --launch-skip 20 --launch-count 1 \
    --set full --import-source yes -o "$R/ncu-$n" "$K" bench --no-validate --seconds 0.05 \
    --variant "$v" gemv --M 16 "$@" > "$R/ncu-$n.log" 2>&1
  echo "== ncu $n rc $? ($((SECONDS - t0))s)"
  ncu -i "$R/ncu-$n.ncu-rep" --page details > "$R/ncu-$n-details.txt" 2>&1
  grep -E "Duration|DRAM Throughput|Issue Slots Busy|Eligible Warps|No Eligible|Warp Cycles Per Issued|Achieved Occupancy|Registers Per|Executed Ipc A|L2 Hit|Mem Busy|Max Bandwidth" \
    "$R/ncu-$n-details.txt" | head -16 | cut -c1-110
  ncu -i "$R/ncu-$n.ncu-rep" --page raw --csv > "$R/ncu-$n-raw.csv" 2>/dev/null
  python3 - "$R/ncu-$n-raw.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
if len(rows) >= 3:
    h, v = rows[0], rows[2]
    st = [(float(v[i].replace(',', '')), h[i]) for i in range(len(h))
          if h[i].startswith('smsp__average_warp_latency_issue_stalled') or
          (h[i].startswith('smsp__pcsamp_warps_issue_stalled') and not h[i].endswith('not_issued'))]
    for val, name in sorted(st, reverse=True)[:12]:
        print(f"  {name}: {val}")
PY
  rm -f "$R/ncu-$n.ncu-rep"
}
prof split-swiglu gemv_mma_wide_split mma_wide_split_pdl --N 11008 --K 4096 --epilogue swiglu
prof split-down gemv_mma_wide_split mma_wide_split_pdl --N 4096 --K 11008
prof wide-o gemv_mma_wide_kernel mma_wide_pdl --N 4096 --K 4096
dr_finish
