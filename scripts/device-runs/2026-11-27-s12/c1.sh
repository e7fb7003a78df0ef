#!/usr/bin/env bash
# session 12 call 1 (H100). Two things in one call:
# (1) verify 58485f3 (session 11's last fix, never run): the y_copy of the F16 fold moved into
#     kernels of its own, so the plain dense GEMVs are back to their old registers. Tests:
#     gemv_dense, fused decode, engine session. A/B 7B F16 B=1 / B=4, fold vs norm kernels.
#     Prediction: B=1 ~198-199 tok/s in fold mode (as c5), B=4 back to ~537 in both modes.
# (2) paged decode attention, rows addressed per tile (page_window.cuh tile_in_page): with
#     pages of a multiple of 16 keys every 16-key warp tile lies in one page, so a tile takes one
#     table lookup and one 64-bit offset instead of ~110 SASS for 4 rows (s11 c4 ncu). At B=1
#     the prologue computes all 4 tiles' rows of a warp before the last copy leaves; predicted
#     paged16 B=1 S=4096 12.4-12.9 -> ~11.3 us (contiguous unchanged ~10.7-11.4), S=16384 -1 us.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_attn_decode_decode_test test_cuda_gemv_gemv_dense_test test_cuda_fused_decode_fused_decode_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
t() {  # name binary timeout [filter]
  local n=$1 bin=$2 to=$3; shift 3
  timeout $to $B/tests/$bin "$@" > $R/$n.log 2>&1; echo "$n rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$n.log | tr '\n' ' ') ($((SECONDS-t0))s)"
  grep -E "^\[  FAILED  \]|Failure|exception" $R/$n.log | head -8
}
t attn test_cuda_attn_decode_decode_test 150
t dense test_cuda_gemv_gemv_dense_test 100
t fused test_cuda_fused_decode_fused_decode_test 200
t session test_cuda_model_cuda_session_test 200
timeout 100 compute-sanitizer --tool memcheck --error-exitcode 99 $B/tests/test_cuda_attn_decode_decode_test --gtest_filter='*PagedEqualsContiguous*' > $R/san-memcheck-attn.log 2>&1; echo "memcheck attn rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck-attn.log)"
for v in split_kv_mma_cluster_spec split_kv_mma_cluster_s2; do
  for rep in 1 2; do
    timeout 60 $K bench --variant $v decode-attn --batch 1 --len 4096,16384 --layout contiguous,paged --json $R/attn-$v-$rep.json > $R/attn-$v-$rep.txt 2>&1
    echo "$v rep $rep: $(grep -hoE '\[B=1,S=[0-9]+,[a-z0-9,]+\] +[0-9.]+ us' $R/attn-$v-$rep.txt | tr -s ' ' | tr '\n' ' ') ($((SECONDS-t0))s)"
  done
done
timeout 90 $K bench decode-attn --batch 1,8,32 --len 4096,16384 --layout contiguous,paged --json $R/attn-auto.json > $R/attn-auto.txt 2>&1
echo "auto: $(grep -hoE '\[B=[0-9]+,S=[0-9]+,[a-z0-9,]+\] +[0-9.]+ us.{0,30}' $R/attn-auto.txt | tr -s ' ' | tr '\n' ';') ($((SECONDS-t0))s)"
e2e() {  # name mode args...
  local n=$1 m=$2; shift 2
  KLAB_CUDA_DENSE_NORM=$m timeout 100 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$m.json > $R/e2e-$n-$m.txt 2>&1
  echo "$n norm=$m: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n-$m.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for m in fold kernel fold kernel; do e2e 7b-f16 $m --model llama2-7b --weights f16 --batch 1,4; done
tar -czf $OUT/resc1.tgz -C $R .
echo "total $((SECONDS-t0))s"
