#!/usr/bin/env bash
# Session 26 c7 (H200): c6's racecheck reported 126 hazards, all in mma_wide_staged.cuh between
# the partial-sum write (red[warp] = acc, line 245) and the readers' sum (line 256). The writers
# past kNt signal with bar.arrive and the readers wait with bar.sync on the same named barrier
# (PTX orders the arrivers' prior writes before the waiters' later reads). Probe: the same test
# binary built on the dev machine with bar.sync for those writers too (not committed). If the
# hazards vanish, racecheck does not model bar.arrive's release and the kernel stands as is.
set -uo pipefail
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
R=/tmp/c7 && rm -rf "$R" && mkdir -p "$R"
xz -dc .carry/gemvq_probe.xz > /tmp/gemvq_probe && chmod +x /tmp/gemvq_probe
timeout 240 compute-sanitizer --tool racecheck --error-exitcode 99 /tmp/gemvq_probe \
  --gtest_filter='*GgufBlocks*:*SpreadHint*' > "$R/racecheck-probe.log" 2>&1
echo "racecheck probe rc $? $(grep -E 'RACECHECK SUMMARY' "$R/racecheck-probe.log")" \
  "$(grep -E '^\[  (PASSED|FAILED) ' "$R/racecheck-probe.log" | tr '\n' ' ')"
grep -E "Race reported" "$R/racecheck-probe.log" | sed -E 's/\+0x[0-9a-f]+//' | sort | uniq -c | head -5
tar -czf "${OUT:-/tmp}/c7.tgz" -C "$R" .
