#!/usr/bin/env bash
# Session 31 c16 (H200): the decode-attention tests on the review's final commit (plan.cpp's
# cluster_len without a dead clamp). Prediction: 823 / 823.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c16 commit-new
dr_unxz t_decode-new.xz "$B/tests/test_cuda_attn_decode_decode_test"
dr_test decode test_cuda_attn_decode_decode_test 150 --gtest_brief=1
dr_finish
