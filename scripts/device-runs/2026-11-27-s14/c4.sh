#!/usr/bin/env bash
# session 14, call c4 (H100, warm after c3, its build and model): the issue-8 rows not
# re-measured since session 12: prefill of a 512-token prompt (7B Q4_0, F16) and the default
# real model's decode (e2e case and klab generate).
set -uo pipefail
test -x /tmp/klab-build/bin/klab && test -f /tmp/m.gguf || { echo COLD; exit 3; }
K=/tmp/klab-build/bin/klab; R=/tmp/c4; rm -rf $R; mkdir -p $R; export KLAB_GIT_COMMIT=$(cat .carry/commit)
for w in q4_0 f16; do
  timeout 120 $K bench e2e --model llama2-7b --weights $w --batch 1 --ctx 512 --prompt 512 \
    --json $R/e2e-7b-$w-prefill.json > $R/e2e-7b-$w-prefill.txt 2>&1
  echo "$w: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-7b-$w-prefill.txt | tr '\n' ' ')"
done
timeout 60 $K bench e2e --model default --json $R/e2e-default.json > $R/e2e-default.txt 2>&1
grep -hE "^bench: e2e .*tokens/s" $R/e2e-default.txt | cut -c1-160
tar -czf $OUT/c4.tgz -C $R .
