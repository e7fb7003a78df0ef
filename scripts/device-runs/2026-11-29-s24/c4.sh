#!/usr/bin/env bash
# Session 24 c4 (H200): the first part of the real model (the carried tree holds at most 64 MiB,
# the model is 98 MB) kept in /tmp for c5, and the build c5 needs. No measurement.
set -uo pipefail
cp .carry/model.a /tmp/m.a
. scripts/device-runs/lib.sh
dr_start c4
dr_build klab_cli test_cuda_model_cuda_session_test
dr_finish
