#!/usr/bin/env bash
# Session 29 c5a / c5b / c5: the real model on the final code, carried in thirds over three
# back-to-back warm calls (64 MiB a call). c5a: its first third to /tmp/m.a (and the build).
set -uo pipefail
cp .carry/model.a /tmp/m.a
. scripts/device-runs/lib.sh
dr_start c5a
dr_build klab_cli test_cuda_model_cuda_session_test
dr_finish
