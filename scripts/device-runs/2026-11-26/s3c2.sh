#!/usr/bin/env bash
# session 3 call 2: mma_async GEMV (tests, bench vs mma, SASS), the new small decode kernels
# (qkv token_split, embedding, rmsnorm) tests, 7B e2e with each GEMV variant.
set -uo pipefail
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || cat /tmp/snap/.carry-commit 2>/dev/null || echo unknown)
t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_qkv_qkv_test test_cuda_model_glue_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
for t in gemv_gemv_q_test qkv_qkv_test model_glue_test; do
  timeout 150 $B/tests/test_cuda_$t --gtest_brief=1 > $OUT/$t.log 2>&1; echo "$t rc $? at $((SECONDS-t0))s"; grep -E "FAILED|PASSED|Failure|rel_error" $OUT/$t.log | head -8
done
for v in mma mma_async mma_async_pdl mma_stream; do
  timeout 60 $K bench gemv --bits 4,8 --M 1,8 --variant $v --json $OUT/gemv-$v.json > $OUT/gemv-$v.txt 2>&1
  timeout 60 $K bench gemv --bits 4 --M 1 --N 12288,4096,11008,4096,32000 --K 4096,4096,4096,11008,4096 --variant $v --json $OUT/gemv7b-$v.json > $OUT/gemv7b-$v.txt 2>&1
  timeout 60 $K bench gemv --bits 4 --M 1 --N 11008 --K 4096 --epilogue swiglu --variant $v --json $OUT/gemvsw-$v.json > $OUT/gemvsw-$v.txt 2>&1
done
grep -hE "^bench: gemv" $OUT/gemv-*.txt $OUT/gemv7b-*.txt $OUT/gemvsw-*.txt | cut -c1-140
grep -hE "copy|ceiling" $OUT/gemv-mma.txt | head -3
for v in auto mma_async mma_async_pdl; do
  KLAB_CUDA_GEMV=$v timeout 90 $K bench e2e --model llama2-7b --weights q4_0,q8_0 --batch 1 --ctx 512 --prompt 0 --json $OUT/e2e-$v.json > $OUT/e2e-$v.txt 2>&1; echo "e2e $v rc $?"; grep -E "tokens/s" $OUT/e2e-$v.txt | cut -c1-150
done
cuobjdump --dump-sass $B/CMakeFiles/klab_cuda_gemv.dir/src/cuda/gemv/mma_async_f16.cu.o > /tmp/a.sass 2>&1
cuobjdump --dump-sass $B/CMakeFiles/klab_cuda_gemv.dir/src/cuda/gemv/mma.cu.o > /tmp/m.sass 2>&1
python3 - <<'PY' > $OUT/sass-summary.txt
import re
for path, pat in (("/tmp/a.sass", "gemv_mma_async_kernelI6__halfLi4ELb0ELi8E"), ("/tmp/m.sass", "gemv_mma_kernelI6__halfLi4ELNS1_7MmaModeE0E")):
    txt = open(path).read()
    fns = re.split(r"\n\s*Function : ", txt)
    for f in fns:
        if pat in f.split("\n")[0]:
            ins = re.findall(r"/\*[0-9a-f]{4,}\*/\s+([^;]+);", f)
            print(path, pat, "instructions:", len(ins))
            # the loop: between the first and the last backward branch target -- print opcode histogram
            ops = {}
            for i in ins:
                op = i.split()[0] if not i.startswith("@") else i.split()[1]
                op = op.split(".")[0]
                ops[op] = ops.get(op, 0) + 1
            print(sorted(ops.items(), key=lambda x: -x[1])[:30])
PY
cat $OUT/sass-summary.txt | cut -c1-600
grep -B2 -A200 "gemv_mma_async_kernelI6__halfLi4ELb0ELi8E" /tmp/a.sass | head -400 > $OUT/sass-async.txt
echo "total $((SECONDS-t0))s"
