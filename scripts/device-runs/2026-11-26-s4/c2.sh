#!/usr/bin/env bash
# session 4 call 2: profiles for the decode-attention and 4-bit GEMV work (Nsight Compute), the
# MHA short-context decode shape of the 7B model, and the e2e cases not measured since 11-25
# (7B batch 16, ctx 4096; Llama-3-8B).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
[ -d /tmp/snap ] || { mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap; }
cd /tmp/snap; R=$OUT; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
if [ ! -x /tmp/klab-build/bin/klab ]; then
  cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
  cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
fi
K=/tmp/klab-build/bin/klab
sec="--section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section SchedulerStats --section LaunchStats --section InstructionStats"
prof() {  # prof NAME KERNEL_REGEX ARGS...
  local name=$1 re=$2; shift 2
  timeout 60 ncu --clock-control none -k "regex:$re" --launch-skip 20 --launch-count 2 $sec $K "$@" > $R/ncu-$name.txt 2>&1
  echo "== $name rc $?"; grep -E "^  [a-z_]+.*\(|Duration|DRAM Throughput|Memory Throughput|Issue Slots Busy|Eligible Warps|Achieved Occupancy|Executed Instructions  |Warp Cycles Per Issued|Registers Per|Grid Size|Block Limit Shared|Dynamic Shared" $R/ncu-$name.txt | head -40 | cut -c1-120
}
prof dec-fused-4096 "decode_mma" bench decode-attn --batch 1 --len 4096 --layout contiguous --variant split_kv_mma_fused
prof dec-fused-16384 "decode_mma" bench decode-attn --batch 1 --len 16384 --layout contiguous --variant split_kv_mma_fused
prof dec-onepass-4096 "decode_mma|combine" bench decode-attn --batch 1 --len 4096 --layout contiguous --variant split_kv_mma_onepass
prof dec-mha-512 "decode_mma" bench decode-attn --batch 1 --len 512 --hq 32 --hkv 32 --layout contiguous --variant split_kv_mma_fused
prof gemv-staged "gemv_mma_staged" bench gemv --bits 4 --M 1 --N 14336 --K 4096 --variant mma_staged
echo "at $((SECONDS-t0))s"
timeout 40 $K bench decode-attn --batch 1 --len 512,4096 --hq 32 --hkv 32 --layout contiguous,paged --json $R/attn-mha.json > $R/attn-mha.txt 2>&1; echo "mha rc $?"
grep -hE "^bench: decode_attention" $R/attn-mha.txt | cut -c1-120
timeout 200 $K bench e2e --model llama2-7b,llama3-8b --weights q4_0 --batch 1,16 --ctx 512,4096 --json $R/e2e.json > $R/e2e.txt 2>&1; echo "e2e rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e" $R/e2e.txt | cut -c1-150
echo "total $((SECONDS-t0))s"
