#!/usr/bin/env bash
# Session 27 call 3 (H200, warm after c2, c1's build): the real model (its thirds from c1, c2 and
# this call's carry): the two real-model engine tests, memcheck on a 16-token generation,
# `klab generate` with and without CUDA graphs, `klab bench e2e --model default`. Prediction:
# tests pass, memcheck 0 errors, numbers within ~3% of s26 c5 (generate 1,753 tok/s, e2e 1,668).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
dr_real_model
dr_real_model_checks
dr_finish
