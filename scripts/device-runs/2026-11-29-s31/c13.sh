#!/usr/bin/env bash
# Session 31 c13 (H200): the engine-facing part of the auto change. One sequence in the engine
# (contiguous cache, history_ready) planned at >= 8192 keys used to take `_w4_spec`; since
# 104455b it takes `_s2`, as at every shorter context. Llama-3-8B Q4_0 (synthetic weights), B=1,
# ctx 8192, old (the c4-c9 study build, study off: the previous auto) then new (a1cfb38), two
# rounds. Prediction, written before the run: new within +-1% or faster (session 8, H100: `_s2`
# 4% ahead of `_spec` in the engine at ctx 4096).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c13 commit-new
dr_unxz klab-study.xz /tmp/klab-old
dr_unxz klab-new.xz /tmp/klab-new
OLD=/tmp/klab-old
K=/tmp/klab-new
export DR_CTX=8192
for round in 1 2; do
  dr_e2e_ab 8b-q4_0-ctx8192 "-r$round" --model llama3-8b --weights q4_0 --batch 1
done
dr_finish
