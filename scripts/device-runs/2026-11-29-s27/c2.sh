#!/usr/bin/env bash
# Session 27 call 2 (H200, warm after c1, its build): compute-sanitizer memcheck on every GPU test
# binary, 16 at once, 200 s each (gpu-check.sh's step, on c1's build). The second third of the
# real model is kept in /tmp. Prediction: 0 errors (s21 c6: 19 binaries clean).
set -uo pipefail
. scripts/device-runs/lib.sh
cp .carry/model.b /tmp/m.b 2>/dev/null
dr_start c2
find "$B/tests" -maxdepth 1 -type f -executable -name 'test_cuda*' | sort | xargs -P 16 -I{} bash -c 'n=$(basename {}); timeout 200 compute-sanitizer --tool memcheck \
  --error-exitcode 99 --print-limit 20 {} --gtest_brief=1 > '"$R"'/memcheck-$n.log 2>&1; echo "$n rc $?"' \
  > "$R/memcheck-verdicts.txt"
sort "$R/memcheck-verdicts.txt"
grep -h "ERROR SUMMARY" "$R"/memcheck-*.log | sort | uniq -c
dr_finish
