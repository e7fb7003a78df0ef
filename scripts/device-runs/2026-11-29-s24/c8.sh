#!/usr/bin/env bash
# Session 24 c8 (H200): the engine tests on the final code (c6 changed the cluster decode's copies
# after c2 ran these): CUDA session (14, the 2 real-model tests skip: the model is not carried)
# and batch decode (7). Expectation: all pass.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c8
dr_build test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test
dr_test session test_cuda_model_cuda_session_test 150
dr_test batch test_cuda_model_batch_decode_test 150
dr_finish
