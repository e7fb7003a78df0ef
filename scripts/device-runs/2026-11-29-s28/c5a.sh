#!/usr/bin/env bash
# Session 28 c5a (H200, cold): the first third of the real model (carried as .carry/model.a) to
# /tmp, and the build of klab and the CUDA session test for c5 (the final code of this session).
set -uo pipefail
cp .carry/model.a /tmp/m.a
. scripts/device-runs/lib.sh
dr_start c5a
dr_build klab_cli test_cuda_model_cuda_session_test
dr_finish
