#!/usr/bin/env bash
# session 4 call 1: full build of the committed snapshot, every GPU test, the quick suite's wall
# time (with each case's setup / validate / timing host seconds in the JSON), and the issue's
# decode-attention shapes on the card this call got.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
cp .carry/model.a /tmp/m.a 2>/dev/null
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap
R=$OUT; t0=$SECONDS
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 -- -k 0 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
(cd $B && timeout 200 ctest -L gpu -j8 --timeout 190 --output-on-failure > $R/ctest-gpu.log 2>&1); echo "ctest rc $? at $((SECONDS-t0))s"
grep -E "tests passed|tests failed|\*\*\*Failed|\*\*\*Timeout|Not Run" $R/ctest-gpu.log | head -20
t1=$SECONDS; timeout 170 $K bench --suite quick --json $R/quick.json --csv $R/quick.csv > $R/quick.txt 2> $R/quick-progress.txt; echo "quick suite rc $? in $((SECONDS-t1))s"; tail -2 $R/quick.txt
t1=$SECONDS; timeout 60 $K bench decode-attn --batch 1,8 --len 512,4096,16384 --layout contiguous,paged --json $R/attn-decode.json > $R/attn-decode.txt 2>&1; echo "decode rc $? in $((SECONDS-t1))s"
grep -hE "^bench: decode_attention" $R/attn-decode.txt | cut -c1-130
echo "total $((SECONDS-t0))s"
