#!/usr/bin/env bash
# Session 21 call 4 (H200), after c3 while warm (this call brings the real model's last quarter;
# the work tree and a carried part must fit 64 MiB of disk blocks a call): the two real-model
# engine tests (greedy tokens equal the CPU's / the unfused path's), memcheck on a 16-token
# generation, `klab generate` 256 tokens with and without CUDA graphs, and the default model's
# e2e rows (B 1/16, 512-token prefill).
set -uo pipefail
test -f /tmp/m.c && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a /tmp/m.b /tmp/m.c .carry/model.d > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models
ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
. scripts/device-runs/lib.sh
dr_start c4
sha256sum /tmp/m.gguf | cut -c1-16
dr_build klab_cli test_cuda_model_cuda_session_test
dr_real_model_checks
dr_finish
