#!/usr/bin/env bash
# session 11 call 4 (H100): c3 showed the paged cost is the kernel's, not the page order
# (sequential 12.6-13.3 us vs shuffled 12.4-12.9 vs contiguous 10.7-11.4 at B=1 S=4096; ncu: SM
# active cycles 12.2k vs 10.6k per SM, same DRAM rate). Where the extra ~1.6k cycles go: per-SASS
# stall samples (SourceCounters) of split_kv_mma_cluster_w8 on both layouts, exported as CSV.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
test -x /tmp/klab-build/bin/klab || { rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap && cd /tmp/snap && cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1 && cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "cold build rc $?"; }
R=/tmp/resc4; rm -rf $R; mkdir -p $R; t0=$SECONDS; K=/tmp/klab-build/bin/klab
for l in contiguous paged; do
  timeout 120 ncu --clock-control none -k "regex:decode_cluster" --launch-skip 20 --launch-count 1 --section SourceCounters --section WarpStateStats --section InstructionStats -o $R/$l $K bench --variant split_kv_mma_cluster_w8 decode-attn --batch 1 --len 4096 --layout $l > $R/ncu-$l.log 2>&1
  echo "ncu $l rc $? ($((SECONDS-t0))s)"
  ncu -i $R/$l.ncu-rep --page source --csv --print-source sass > $R/sass-$l.csv 2> $R/sass-$l.err; echo "csv $l rc $? $(wc -l < $R/sass-$l.csv) lines"
  ncu -i $R/$l.ncu-rep --page details --section InstructionStats --section WarpStateStats > $R/details-$l.txt 2>&1
  grep -E "Executed Instructions |Issued Instructions |Stall" $R/details-$l.txt | head -20 | cut -c1-110
done
rm -f $R/*.ncu-rep
tar -czf $OUT/resc4.tgz -C $R .
echo "total $((SECONDS-t0))s"
