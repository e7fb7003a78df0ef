#!/usr/bin/env bash
# Session 28 c5 (H200, warm after c5b; c5a's build): the default real model on this session's
# final code (the staged GEMV's shared-memory opt-in now goes through cuda/common/smem_opt_in.hpp,
# and the real model's Q4_1 GEMVs are staged): its two engine tests (greedy tokens equal the CPU
# engine's and the unfused path's), memcheck on a 16-token generation, `klab generate` with and
# without CUDA graphs, `klab bench e2e --model default`; then a second 8B F16 round of the norm
# fold (c4: fold 227.6 against 224.4 / 225.1 with the norm kernels).
# Prediction: tests pass, memcheck 0 errors, generate ~1,750 tok/s with graphs (s27 c3 1,760.7),
# e2e default B=1 ~1,660 (s27 c3 1,658.5); 8B F16 fold within 0..+1.5% of the default.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build klab_cli test_cuda_model_cuda_session_test
dr_real_model
dr_real_model_checks
dr_pack
KLAB_CUDA_DENSE_NORM=fold dr_e2e 8b-f16-norm-fold --model llama3-8b --weights f16 --batch 1
dr_e2e 8b-f16-default --model llama3-8b --weights f16 --batch 1
dr_finish
