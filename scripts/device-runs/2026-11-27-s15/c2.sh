#!/usr/bin/env bash
# session 15, call c2 (H100): why mma_wide_split ran 1.5-1.7x slower than mma_wide in c1
# (M = 16, 4-bit: 12288 x 4096 28.4 vs 17.6 us; the per-stage time ~1 us with one CTA an SM, as
# if its 4-stage ring did not overlap). Nsight Compute of one launch of each at 12288 x 4096
# (split forced to 4: 384 CTAs), their stall reasons and per-instruction samples, and the SASS.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
dr_build klab_cli
cuobjdump -sass "$B/CMakeFiles/klab_cuda_gemv.dir/src/cuda/gemv/mma_wide_split_f16.cu.o" \
  > "$R/split-f16.sass" 2>&1
echo "sass rc $? $(wc -l < "$R/split-f16.sass") lines"
prof() {  # NAME KERNEL_REGEX VARIANT
  local n=$1 k=$2 v=$3
  timeout 120 ncu --clock-control none -k "regex:$k" --launch-skip 20 --launch-count 1 \
    --set full --import-source yes -o "$R/ncu-$n" "$K" bench --no-validate --seconds 0.05 \
    --variant "$v" gemv --M 16 --N 12288 --K 4096 > "$R/ncu-$n.log" 2>&1
  echo "== ncu $n rc $? ($((SECONDS - t0))s)"
  ncu -i "$R/ncu-$n.ncu-rep" --page details > "$R/ncu-$n-details.txt" 2>&1
  grep -E "Duration|DRAM Throughput|Issue Slots Busy|Eligible Warps|No Eligible|Warp Cycles Per Issued|Achieved Occupancy|Registers Per|Executed Ipc A|L2 Hit|Mem Busy|Max Bandwidth" \
    "$R/ncu-$n-details.txt" | head -16 | cut -c1-110
  ncu -i "$R/ncu-$n.ncu-rep" --page raw --csv > "$R/ncu-$n-raw.csv" 2>/dev/null
  ncu -i "$R/ncu-$n.ncu-rep" --page source --csv --print-source sass > "$R/ncu-$n-sass.csv" 2>/dev/null
  python3 - "$R/ncu-$n-raw.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
if len(rows) >= 3:
    h, v = rows[0], rows[2]
    st = [(float(v[i].replace(',', '')), h[i]) for i in range(len(h))
          if h[i].startswith('smsp__average_warp_latency_issue_stalled') or
          (h[i].startswith('smsp__pcsamp_warps_issue_stalled') and not h[i].endswith('not_issued'))]
    for val, name in sorted(st, reverse=True)[:10]:
        print(f"  {name}: {val}")
PY
}
KLAB_CUDA_WIDE_SPLIT=4 prof split gemv_mma_wide_split mma_wide_split_pdl
prof wide gemv_mma_wide_kernel mma_wide_pdl
rm -f "$R"/*.ncu-rep.tmp
dr_finish
