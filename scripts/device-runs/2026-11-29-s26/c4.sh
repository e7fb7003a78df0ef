#!/usr/bin/env bash
# Session 26 c4 (H200): the first third of the real model kept in /tmp for c4b / c5 (work tree
# plus carried files fit 64 MiB of disk blocks a call; the model is 98 MB), and the build c5
# needs (final commit). No measurement.
set -uo pipefail
cp .carry/model.a /tmp/m.a
. scripts/device-runs/lib.sh
dr_start c4
dr_build klab_cli test_cuda_model_cuda_session_test test_cuda_gemv_gemv_q_test
dr_finish
