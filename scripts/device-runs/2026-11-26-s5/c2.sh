#!/usr/bin/env bash
# session 5 call 2 (H100, after c1 on the same machine when warm, else rebuilds): Nsight Compute
# breakdown of a Llama-2-7B Q4_0 B=1 decode step (scripts/profile-e2e.sh) on the H100, and the
# same for Q8_0.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
t0=$SECONDS
if [ ! -x /tmp/klab-build/bin/klab ]; then
  rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
  cmake -S /tmp/snap -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
  cmake --build /tmp/klab-build -j16 --target klab > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
fi
cd /tmp/snap; R=/tmp/res2; rm -rf $R; mkdir -p $R
nvidia-smi --query-gpu=name --format=csv,noheader
KLAB_PROFILE_COUNT=330 OUT=$R timeout 200 bash scripts/profile-e2e.sh llama2-7b q4_0 > $R/profile-q4_0.txt 2>&1; echo "profile q4_0 rc $? at $((SECONDS-t0))s"; head -14 $R/profile-q4_0.txt | cut -c1-200
mv $R/ncu-e2e-summary.txt $R/ncu-e2e-summary-q4_0.txt; mv $R/ncu-e2e.csv $R/ncu-e2e-q4_0.csv
KLAB_PROFILE_COUNT=330 OUT=$R timeout 200 bash scripts/profile-e2e.sh llama2-7b q8_0 > $R/profile-q8_0.txt 2>&1; echo "profile q8_0 rc $? at $((SECONDS-t0))s"; head -12 $R/profile-q8_0.txt | cut -c1-200
mv $R/ncu-e2e-summary.txt $R/ncu-e2e-summary-q8_0.txt; mv $R/ncu-e2e.csv $R/ncu-e2e-q8_0.csv
tar -czf $OUT/res2.tgz -C $R .
echo "total $((SECONDS-t0))s"
